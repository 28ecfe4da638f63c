using NsqSharp.Bench.Measure;
using Xunit;

namespace NsqSharp.Bench.Tests.Measure;

/// <summary>
/// The histogram against exact nearest-rank percentiles of the same data. The class documents:
/// values below 512 are exact, anything else keeps better than 0.4% precision (256 linear
/// sub-buckets per power of two), and a percentile reports the highest value of its slot, capped at Max.
/// </summary>
public class LogLinearHistogramTests
{
    // Exactly representable in decimal; includes 7/14/28/55/56 and 99.9, where p / 100.0 * n in
    // double lands a hair above the integer rank for n = 100, 1000, 10000 (0.07 * 100 = 7.000000000000001).
    private static readonly double[] Percentiles = [0, 1, 7, 10, 14, 25, 28, 50, 55, 56, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100];

    /// <summary>Precision promised by the class doc: "better than 0.4%" (one 256th of the value).</summary>
    private const double RelativeError = 1.0 / 256;

    public static TheoryData<string, int> Distributions() => new()
    {
        { "uniform", 1_000 },
        { "uniform", 100_000 },
        { "exponential", 10_000 },
        { "exponential", 100_000 },
        { "lognormal", 50_000 },
        { "outliers", 1_000 },
        { "outliers", 10_000 },
        { "small", 100 },
        { "small", 375 },
        { "constant", 200 },
        { "single", 1 },
        { "seven", 7 },
    };

    [Theory]
    [MemberData(nameof(Distributions))]
    public void Percentiles_are_within_the_documented_error_of_the_exact_percentile(string distribution, int n)
    {
        var values = Generate(distribution, n, seed: (distribution.Length * 7919) + n);
        var h = Record(values);
        var sorted = values.Order().ToArray();

        Assert.Equal(n, h.Count);
        Assert.Equal(sorted[^1], h.Max);
        Assert.Equal(sorted[0], h.Min);
        foreach (var p in Percentiles)
        {
            var exact = ExactPercentile(sorted, p);
            var reported = h.ValueAtPercentile(p);
            Assert.True(reported >= exact && reported - exact <= exact * RelativeError,
                $"{distribution} n={n} p{p}: histogram {reported}, exact {exact} (allowed {exact}..{exact + (long)(exact * RelativeError)})");
            Assert.True(reported <= h.Max, $"{distribution} n={n} p{p}: {reported} above max {h.Max}");
        }
    }

    [Fact]
    public void A_few_huge_outliers_do_not_leak_into_lower_percentiles()
    {
        // 997 latencies around 1 ms and three of about an hour (a stalled broker): p99 and p99.9 must
        // still be milliseconds, max must be the exact hour, and 100 hits the largest outlier.
        var rng = new Random(42);
        var values = Enumerable.Range(0, 997).Select(_ => 900_000L + rng.Next(200_000)).ToList();
        values.AddRange([3_600_000_000_000L, 3_600_000_000_017L, 3_700_000_000_123L]);
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values));
        var h = Record(values);
        var sorted = values.Order().ToArray();

        Assert.Equal(3_700_000_000_123L, h.Max);
        Assert.Equal(3_700_000_000_123L, h.ValueAtPercentile(100));
        Assert.True(h.ValueAtPercentile(99) <= 1_100_000 * (1 + RelativeError), $"p99 {h.ValueAtPercentile(99)}");
        // rank ceil(0.997 * 1000) = 997 is the last ordinary value; rank 998 is the first outlier.
        Assert.True(h.ValueAtPercentile(99.7) <= 1_100_000 * (1 + RelativeError), $"p99.7 {h.ValueAtPercentile(99.7)}");
        Assert.True(h.ValueAtPercentile(99.8) >= 3_600_000_000_000L, $"p99.8 {h.ValueAtPercentile(99.8)}");
        Assert.InRange(h.ValueAtPercentile(99.9), ExactPercentile(sorted, 99.9), ExactPercentile(sorted, 99.9) * (1 + RelativeError));
    }

    [Fact]
    public void Rank_is_exact_for_p99_9_of_a_thousand_samples()
    {
        // 1..1000 with the top one an outlier: p99.9 is rank 999 (value 999), not the outlier.
        var h = new LogLinearHistogram();
        for (var v = 1; v <= 999; v++)
        {
            h.Record(v);
        }

        h.Record(1_000_000_000);
        Assert.Equal(999, h.ValueAtPercentile(99.9));
        Assert.Equal(500, h.ValueAtPercentile(50));
        Assert.Equal(70, h.ValueAtPercentile(7));
        Assert.Equal(1_000_000_000, h.ValueAtPercentile(100));
    }

    [Fact]
    public void Values_below_512_are_exact_at_every_percentile()
    {
        var rng = new Random(7);
        var values = Enumerable.Range(0, 5_000).Select(_ => (long)rng.Next(512)).ToArray();
        var h = Record(values);
        var sorted = values.Order().ToArray();
        foreach (var p in Percentiles)
        {
            Assert.Equal(ExactPercentile(sorted, p), h.ValueAtPercentile(p));
        }
    }

    [Fact]
    public void Empty_histogram_reports_zero()
    {
        var h = new LogLinearHistogram();
        Assert.Equal(0, h.Count);
        Assert.Equal(0, h.Max);
        Assert.Equal(0, h.ValueAtPercentile(50));
        Assert.Equal(0, h.ValueAtPercentile(100));
    }

    [Fact]
    public void Zero_and_negative_values_count_as_zero()
    {
        var h = new LogLinearHistogram();
        h.Record(0);
        h.Record(-5);
        h.Record(long.MinValue);
        Assert.Equal(3, h.Count);
        Assert.Equal(0, h.Min);
        Assert.Equal(0, h.Max);
        Assert.Equal(0, h.ValueAtPercentile(0));
        Assert.Equal(0, h.ValueAtPercentile(100));
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 1)]
    [InlineData(1L << 62)]
    [InlineData((1L << 62) - 1)]
    [InlineData(1L << 40)]
    [InlineData(86_400_000_000_000L)] // a day in ns
    public void Very_large_values_are_recorded_without_overflow(long value)
    {
        var h = new LogLinearHistogram();
        h.Record(1);
        h.Record(value);
        Assert.Equal(2, h.Count);
        Assert.Equal(value, h.Max);
        Assert.Equal(value, h.ValueAtPercentile(100));
        Assert.Equal(1, h.ValueAtPercentile(50));
        var index = LogLinearHistogram.IndexOf(value);
        Assert.InRange(value, LogLinearHistogram.LowestEquivalent(index), LogLinearHistogram.HighestEquivalent(index));
    }

    [Fact]
    public void Slots_tile_the_whole_positive_range_with_the_documented_precision()
    {
        // Walk every slot from 0 to the one holding long.MaxValue: contiguous, non-overlapping,
        // each at most 1/256 of its lowest value wide, and IndexOf maps both ends back to it.
        var last = LogLinearHistogram.IndexOf(long.MaxValue);
        Assert.True(last < 14_592, $"last slot {last} outside the documented 14,592-slot array");
        Assert.Equal(long.MaxValue, LogLinearHistogram.HighestEquivalent(last));
        long expectedLow = 0;
        for (var i = 0; i <= last; i++)
        {
            var lo = LogLinearHistogram.LowestEquivalent(i);
            var hi = LogLinearHistogram.HighestEquivalent(i);
            Assert.Equal(expectedLow, lo);
            Assert.True(hi >= lo, $"slot {i}: {lo}..{hi}");
            if (lo < 512)
            {
                Assert.Equal(lo, hi);
            }
            else
            {
                Assert.True(hi - lo < lo / 256, $"slot {i}: {lo}..{hi} wider than 1/256"); // integers: a double would round 2^54 - 1 up
            }

            Assert.Equal(i, LogLinearHistogram.IndexOf(lo));
            Assert.Equal(i, LogLinearHistogram.IndexOf(hi));
            expectedLow = hi == long.MaxValue ? long.MaxValue : hi + 1;
        }
    }

    [Fact]
    public void Random_values_fall_in_their_slot_and_within_0_4_percent()
    {
        var rng = new Random(1234);
        for (var i = 0; i < 200_000; i++)
        {
            var bits = rng.Next(0, 64);
            var value = bits == 0 ? 0 : rng.NextInt64(0, long.MaxValue) >> (63 - bits);
            var index = LogLinearHistogram.IndexOf(value);
            var lo = LogLinearHistogram.LowestEquivalent(index);
            var hi = LogLinearHistogram.HighestEquivalent(index);
            Assert.InRange(value, lo, hi);
            Assert.True(hi - value <= value * 0.004, $"{value}: slot {lo}..{hi}");
        }
    }

    [Fact]
    public void Add_merges_to_the_same_result_as_recording_everything_in_one()
    {
        var rng = new Random(99);
        var parts = new[] { new LogLinearHistogram(), new LogLinearHistogram(), new LogLinearHistogram(), new LogLinearHistogram() };
        var all = new LogLinearHistogram();
        for (var i = 0; i < 40_000; i++)
        {
            var v = (long)(-Math.Log(1 - rng.NextDouble()) * 250_000) + (i % 97 == 0 ? 50_000_000 : 0);
            all.Record(v);
            parts[i % 3].Record(v); // parts[3] stays empty: merging an empty histogram must change nothing
        }

        var merged = new LogLinearHistogram();
        foreach (var part in parts)
        {
            merged.Add(part);
        }

        Assert.Equal(all.Count, merged.Count);
        Assert.Equal(all.Min, merged.Min);
        Assert.Equal(all.Max, merged.Max);
        foreach (var p in Percentiles)
        {
            Assert.Equal(all.ValueAtPercentile(p), merged.ValueAtPercentile(p));
        }
    }

    [Fact]
    public void Add_into_an_empty_histogram_copies_min_and_max()
    {
        var source = new LogLinearHistogram();
        source.Record(700);
        source.Record(5_000_000);
        var target = new LogLinearHistogram();
        target.Add(source);
        Assert.Equal(2, target.Count);
        Assert.Equal(700, target.Min);
        Assert.Equal(5_000_000, target.Max);
        Assert.Equal(701, target.ValueAtPercentile(50)); // 700 and 701 share a slot; the slot's highest value is reported
    }

    [Fact]
    public void Percentiles_are_monotonic_and_clamped()
    {
        var h = Record(Generate("lognormal", 20_000, 5));
        long previous = 0;
        for (var p = 0.0; p <= 100.0; p += 0.25)
        {
            var v = h.ValueAtPercentile(p);
            Assert.True(v >= previous, $"p{p} = {v} < {previous}");
            previous = v;
        }

        Assert.Equal(h.ValueAtPercentile(100), h.ValueAtPercentile(250));
        Assert.Equal(h.ValueAtPercentile(0), h.ValueAtPercentile(-3));
    }

    [Fact]
    public void LatencySummary_converts_nanoseconds_to_ordered_microsecond_percentiles()
    {
        var h = Record(Generate("exponential", 10_000, 3));
        var s = LatencySummary.FromNanoseconds(h);
        Assert.Equal(10_000, s.Count);
        Assert.Equal(Math.Round(h.ValueAtPercentile(50) / 1000.0, 1), s.P50Us);
        Assert.Equal(Math.Round(h.ValueAtPercentile(99.9) / 1000.0, 1), s.P999Us);
        Assert.Equal(Math.Round(h.Max / 1000.0, 1), s.MaxUs);
        Assert.True(s.P50Us <= s.P90Us && s.P90Us <= s.P99Us && s.P99Us <= s.P999Us && s.P999Us <= s.MaxUs,
            $"{s.P50Us} {s.P90Us} {s.P99Us} {s.P999Us} {s.MaxUs}");
        Assert.Equal(0, s.Distribution[0].Percentile);
        Assert.Equal(99.999, s.Distribution[^1].Percentile, 6);
        for (var i = 1; i < s.Distribution.Count; i++)
        {
            Assert.True(s.Distribution[i].Percentile > s.Distribution[i - 1].Percentile);
            Assert.True(s.Distribution[i].ValueUs >= s.Distribution[i - 1].ValueUs);
        }

        var empty = LatencySummary.FromNanoseconds(new LogLinearHistogram());
        Assert.Equal(0, empty.Count);
        Assert.Equal(0, empty.MaxUs);
        Assert.Equal(0, empty.P50Us);
    }

    /// <summary>Nearest rank: the smallest value with at least p% of the data at or below it (rank ≥ 1), in exact decimal arithmetic.</summary>
    private static long ExactPercentile(long[] sorted, double p)
    {
        var rank = (long)Math.Ceiling((decimal)p * sorted.Length / 100m);
        rank = Math.Clamp(rank, 1, sorted.Length);
        return sorted[rank - 1];
    }

    private static LogLinearHistogram Record(IEnumerable<long> values)
    {
        var h = new LogLinearHistogram();
        foreach (var v in values)
        {
            h.Record(v);
        }

        return h;
    }

    private static long[] Generate(string distribution, int n, int seed)
    {
        var rng = new Random(seed);
        return distribution switch
        {
            "uniform" => Enumerable.Range(0, n).Select(_ => rng.NextInt64(0, 10_000_000)).ToArray(),
            "exponential" => Enumerable.Range(0, n).Select(_ => (long)(-Math.Log(1 - rng.NextDouble()) * 150_000)).ToArray(),
            "lognormal" => Enumerable.Range(0, n).Select(_ => (long)Math.Exp(13 + (2 * Gaussian(rng)))).ToArray(),
            "outliers" => Enumerable.Range(0, n).Select(i => i % (n / 4) == 3 ? 5_000_000_000_000L + rng.Next(1000) : 1_000_000L + rng.Next(100_000)).ToArray(),
            "small" => Enumerable.Range(0, n).Select(_ => (long)rng.Next(0, 2_000)).ToArray(),
            "constant" => Enumerable.Repeat(123_456_789L, n).ToArray(),
            "single" => [987_654_321L],
            "seven" => [5, 600, 70_000, 8_000_000, 90_000_001, 1_000_000_000_000, 3],
            _ => throw new ArgumentOutOfRangeException(nameof(distribution)),
        };
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
