namespace NsqSharp.Nsqd.Lookup;

/// <summary>Timings and bounds of the lookupd registration; defaults follow upstream nsqd.</summary>
public sealed class LookupRegistrarOptions
{
    /// <summary>Upstream sends PING every 15 s; it keeps us "active" in /lookup (300 s timeout).</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Upstream dials with a 1 s timeout.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Time allowed for one command's write and response. Upstream uses 1 s read/write deadlines;
    /// we allow more so a GC pause on a busy 2-core box does not cost a full re-registration.
    /// </summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First reconnect delay; doubles up to <see cref="ReconnectDelayMax"/>.</summary>
    public TimeSpan ReconnectDelayMin { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan ReconnectDelayMax { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Pending REGISTER/UNREGISTER per lookupd; beyond it the queue is dropped and we re-register from scratch.</summary>
    public int MaxQueuedCommands { get; init; } = 10_000;

    /// <summary>Largest response accepted from a lookupd (nsqd's --max-body-size).</summary>
    public int MaxResponseSize { get; init; } = 5 * 1024 * 1024;

    /// <summary>Whole-query bound of <see cref="LookupRegistrar.GetKnownChannelsAsync"/> (upstream: 2 s connect, 5 s request).</summary>
    public TimeSpan ChannelQueryTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
