using System.Numerics;

namespace NsqSharp.Bench.Measure;

/// <summary>
/// Log-linear histogram (the HdrHistogram layout): values below 512 are exact, above that each power
/// of two is split into 256 linear sub-buckets, so any value keeps better than 0.4% precision in a
/// fixed 14,592-slot array. Recording is one array increment (single writer); merge for totals.
/// Values are nanoseconds here, but the class is unit-free.
/// </summary>
internal sealed class LogLinearHistogram
{
    private const int SubBits = 8;
    private const int SubCount = 1 << SubBits;       // 256 sub-buckets per power of two
    private const int ExactLimit = SubCount * 2;      // 512: below it, one slot per value
    private const int Slots = ExactLimit + ((63 - SubBits) * SubCount);

    private readonly long[] _counts = new long[Slots];

    public long Count { get; private set; }

    public long Min { get; private set; } = long.MaxValue;

    public long Max { get; private set; }

    public void Record(long value)
    {
        if (value < 0)
        {
            value = 0;
        }

        _counts[IndexOf(value)]++;
        Count++;
        if (value < Min)
        {
            Min = value;
        }

        if (value > Max)
        {
            Max = value;
        }
    }

    public void Add(LogLinearHistogram other)
    {
        for (var i = 0; i < Slots; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>Value at a percentile (0..100): the highest value equivalent to the slot that holds it, capped at Max.</summary>
    public long ValueAtPercentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        // Nearest rank in decimal: in double, 99.9 / 100.0 * 1000 is 999.0000000000001 and 7 / 100.0 * 100 is
        // 7.000000000000001, whose ceiling is one rank too high (p99.9 of 1,000 samples would report the max).
        var p = double.IsNaN(percentile) ? 0 : Math.Clamp(percentile, 0, 100);
        var rank = (long)Math.Ceiling((decimal)p * Count / 100m);
        rank = Math.Max(1, rank);
        long seen = 0;
        for (var i = 0; i < Slots; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(Max, HighestEquivalent(i));
            }
        }

        return Max;
    }

    internal static int IndexOf(long value)
    {
        if (value < ExactLimit)
        {
            return (int)value;
        }

        var msb = 63 - BitOperations.LeadingZeroCount((ulong)value);   // >= 9
        var shift = msb - SubBits;                                      // keep SubBits+1 significant bits
        var sub = (int)(value >> shift) - SubCount;                     // 0..255
        return ExactLimit + ((msb - (SubBits + 1)) * SubCount) + sub;
    }

    internal static long LowestEquivalent(int index)
    {
        if (index < ExactLimit)
        {
            return index;
        }

        var bucket = (index - ExactLimit) / SubCount;
        var sub = (index - ExactLimit) % SubCount;
        var shift = bucket + 1;
        return (long)(SubCount + sub) << shift;
    }

    internal static long HighestEquivalent(int index)
    {
        if (index < ExactLimit)
        {
            return index;
        }

        var shift = ((index - ExactLimit) / SubCount) + 1;
        return LowestEquivalent(index) + (1L << shift) - 1;
    }
}
