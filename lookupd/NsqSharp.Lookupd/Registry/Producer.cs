namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// A peer's membership in one registration. Tombstones live here, so tombstoning a node for one
/// topic does not hide it for another.
/// </summary>
internal sealed class Producer(PeerInfo peer)
{
    public PeerInfo Peer { get; } = peer;

    public bool Tombstoned { get; private set; }

    /// <summary>Unix ns when tombstoned; null if never.</summary>
    public long? TombstonedAtUnixNanos { get; private set; }

    public void Tombstone(long nowUnixNanos)
    {
        Tombstoned = true;
        TombstonedAtUnixNanos = nowUnixNanos;
    }

    public bool IsTombstoned(TimeSpan lifetime, long nowUnixNanos) =>
        Tombstoned && TombstonedAtUnixNanos is { } at && nowUnixNanos - at < lifetime.Ticks * 100;
}
