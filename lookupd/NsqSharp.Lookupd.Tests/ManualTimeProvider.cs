namespace NsqSharp.Lookupd.Tests;

/// <summary>A clock the test moves by hand, for PING ages and tombstone lifetimes.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private DateTimeOffset _now = new(2025, 1, 27, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
