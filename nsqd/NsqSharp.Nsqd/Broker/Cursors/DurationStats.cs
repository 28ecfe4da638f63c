using System.Diagnostics;

namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// Durations of one kind of step or locked section (Stopwatch ticks): the last one, the longest, and a count and sum,
/// so /metrics can show what it costs (for a locked section: the threads waiting for the lock). Written by one thread
/// at a time, read by any.
/// </summary>
public sealed class DurationStats
{
    private long _lastTicks;
    private long _maxTicks;
    private long _count;
    private long _sumTicks;

    public double LastSeconds => Seconds(Volatile.Read(ref _lastTicks));

    public double MaxSeconds => Seconds(Volatile.Read(ref _maxTicks));

    public long Count => Volatile.Read(ref _count);

    public double SumSeconds => Seconds(Volatile.Read(ref _sumTicks));

    internal void Record(long ticks)
    {
        Volatile.Write(ref _lastTicks, ticks);
        if (ticks > Volatile.Read(ref _maxTicks))
        {
            Volatile.Write(ref _maxTicks, ticks);
        }

        Interlocked.Add(ref _sumTicks, ticks);
        Interlocked.Increment(ref _count);
    }

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;
}
