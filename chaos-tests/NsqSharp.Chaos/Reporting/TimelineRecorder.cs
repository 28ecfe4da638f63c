using NsqSharp.Chaos.History;

namespace NsqSharp.Chaos.Reporting;

/// <summary>
/// Collects the <see cref="Timeline"/> in the same pass as the checker: keeps one (time, latency) pair per
/// acknowledged enqueue and the nemesis lines, and buckets them at the end.
/// </summary>
public sealed class TimelineRecorder
{
    private const long NanosPerSecond = 1_000_000_000;

    // The before/after windows are as long as the fault, within these bounds.
    private const double MinWindowSeconds = 1;
    private const double MaxWindowSeconds = 10;

    private readonly List<long> _ackTimes = [];
    private readonly List<long> _ackLatencies = [];
    private readonly List<(string Label, long Start, long? Stop)> _faults = [];
    private long _first = long.MaxValue;
    private long _last = long.MinValue;

    /// <param name="op">The next line.</param>
    /// <param name="invoke">For a completion, the invoke it completes.</param>
    public void Observe(HistoryOp op, HistoryOp? invoke)
    {
        _first = Math.Min(_first, op.Time);
        _last = Math.Max(_last, op.Time);
        if (op.IsNemesis)
        {
            if (op.Type != OpType.Invoke)
            {
                ObserveNemesis(op);
            }
        }
        else if (op is { F: HistoryNames.Enqueue, Type: OpType.Ok } && invoke is not null)
        {
            _ackTimes.Add(op.Time);
            _ackLatencies.Add(op.Time - invoke.Time);
        }
    }

    public Timeline Finish()
    {
        if (_first > _last)
        {
            return new Timeline(0, [], [], []);
        }

        var times = _ackTimes.ToArray();
        var latencies = _ackLatencies.ToArray();
        Array.Sort(times, latencies);
        var duration = Seconds(_last);
        var faults = _faults.Select(f => new FaultWindow(f.Label, Seconds(f.Start), f.Stop is { } stop ? Seconds(stop) : null)).ToList();
        return new Timeline(duration, Buckets(times, latencies), faults, faults.Select(f => Recovery(f, times, duration)).ToList());
    }

    private void ObserveNemesis(HistoryOp op)
    {
        var label = op.Value ?? "fault";
        if (op.F == HistoryNames.Start)
        {
            _faults.Add((label, op.Time, null));
            return;
        }

        if (op.F != HistoryNames.Stop)
        {
            return;
        }

        // A stop ends the open fault with the same text, else the oldest open one; with none open it draws nothing.
        var index = _faults.FindIndex(f => f.Stop is null && f.Label == label);
        if (index < 0)
        {
            index = _faults.FindIndex(f => f.Stop is null);
        }

        if (index >= 0)
        {
            _faults[index] = _faults[index] with { Stop = op.Time };
        }
    }

    private List<TimelineBucket> Buckets(long[] times, long[] latencies)
    {
        var count = (int)((_last - _first) / NanosPerSecond) + 1;
        var buckets = new List<TimelineBucket>(count);
        var from = 0;
        for (var second = 0; second < count; second++)
        {
            var end = LowerBound(times, _first + ((second + 1) * NanosPerSecond));
            var inBucket = latencies.AsSpan(from, end - from).ToArray();
            Array.Sort(inBucket);
            buckets.Add(inBucket.Length == 0
                ? new TimelineBucket(second, 0, null, null)
                : new TimelineBucket(second, inBucket.Length, Millis(inBucket[(inBucket.Length - 1) / 2]), Millis(inBucket[^1])));
            from = end;
        }

        return buckets;
    }

    private FaultThroughput Recovery(FaultWindow fault, long[] times, double duration)
    {
        var stop = fault.StopSeconds ?? duration;
        var window = Math.Clamp(stop - fault.StartSeconds, MinWindowSeconds, MaxWindowSeconds);
        return new FaultThroughput(
            fault,
            window,
            Rate(times, fault.StartSeconds - window, fault.StartSeconds, duration),
            Rate(times, fault.StartSeconds, stop, duration),
            fault.StopSeconds is null ? null : Rate(times, stop, stop + window, duration));
    }

    /// <summary>Acks per second in [from, to) seconds, clipped to the history; null if nothing of it is left.</summary>
    private double? Rate(long[] times, double from, double to, double duration)
    {
        from = Math.Max(from, 0);
        to = Math.Min(to, duration);
        if (to <= from)
        {
            return null;
        }

        // Windows are half-open, except that the one reaching the end of the history keeps its last line.
        var end = _first + Nanos(to) + (to >= duration ? 1 : 0);
        var acks = LowerBound(times, end) - LowerBound(times, _first + Nanos(from));
        return acks / (to - from);
    }

    private static int LowerBound(long[] sorted, long time)
    {
        var i = Array.BinarySearch(sorted, time);
        if (i < 0)
        {
            return ~i;
        }

        // BinarySearch finds any equal element; step back to the first.
        while (i > 0 && sorted[i - 1] == time)
        {
            i--;
        }

        return i;
    }

    private double Seconds(long time) => (time - _first) / (double)NanosPerSecond;

    private static long Nanos(double seconds) => (long)Math.Round(seconds * NanosPerSecond);

    private static double Millis(long nanos) => nanos / 1e6;
}
