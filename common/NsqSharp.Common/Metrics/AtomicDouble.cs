namespace NsqSharp.Common.Metrics;

/// <summary>Lock-free add on a double field (there is no Interlocked.Add for doubles).</summary>
internal static class AtomicDouble
{
    public static void Add(ref double location, double delta)
    {
        double current = Volatile.Read(ref location);
        while (true)
        {
            double seen = Interlocked.CompareExchange(ref location, current + delta, current);
            // Compare bits, not values: 0.0 == -0.0 and NaN != NaN would mislead the retry check.
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }
}
