using System.Diagnostics;

namespace NsqSharp.Bench.Load;

/// <summary>
/// The open-loop timetable: publish batch k is due at start + k * period, whatever happened to batch
/// k-1. Latencies are measured from these due times, so a broker stall shows in full in every message
/// scheduled during it instead of silently slowing the sender (coordinated omission).
/// </summary>
internal sealed class LatencySchedule(double batchesPerSecond, TimeSpan warmup, TimeSpan runFor)
{
    private static readonly double NanosPerTick = 1e9 / Stopwatch.Frequency;
    private readonly double _periodTicks = Stopwatch.Frequency / batchesPerSecond;

    public long Start { get; private set; }

    public long WarmupEnd { get; private set; }

    public long End { get; private set; }

    public void Begin(long startTimestamp)
    {
        Start = startTimestamp;
        WarmupEnd = startTimestamp + ToTicks(warmup);
        End = startTimestamp + ToTicks(runFor);
    }

    // Rounded, not truncated: 29 * (1e9 / 29) is 999999999.9999999 in double, which truncation made due
    // one tick before End, so --rate=29 --runfor=1s sent 30 messages (and warmup boundaries moved likewise).
    public long Due(long batch) => Start + (long)Math.Round(batch * _periodTicks);

    // In integers: 1.001 s as TotalSeconds * Frequency is 1000999999.9999999 ticks.
    private static long ToTicks(TimeSpan duration) => (long)((Int128)duration.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);

    public static long ToNanoseconds(long ticks) => (long)(ticks * NanosPerTick);
}
