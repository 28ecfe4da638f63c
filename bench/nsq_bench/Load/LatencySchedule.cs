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
        WarmupEnd = startTimestamp + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        End = startTimestamp + (long)(runFor.TotalSeconds * Stopwatch.Frequency);
    }

    public long Due(long batch) => Start + (long)(batch * _periodTicks);

    public static long ToNanoseconds(long ticks) => (long)(ticks * NanosPerTick);
}
