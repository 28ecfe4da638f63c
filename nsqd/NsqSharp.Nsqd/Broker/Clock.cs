namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// The two readings the broker takes from its <see cref="TimeProvider"/> (NsqdOptions.Time): a monotonic
/// millisecond count for in-flight deadlines and timers, and unix milliseconds for what is persisted or
/// shown (deferred due times, publish timestamps). Tests pass a fake provider and move time by hand.
/// </summary>
internal static class Clock
{
    public static long MonotonicMs(this TimeProvider time)
    {
        var frequency = time.TimestampFrequency;
        var stamp = time.GetTimestamp();
        return frequency % 1000 == 0 ? stamp / (frequency / 1000) : (long)(stamp * (1000.0 / frequency));
    }

    public static long UnixMs(this TimeProvider time) => time.GetUtcNow().ToUnixTimeMilliseconds();
}
