using System.Diagnostics.Metrics;
using System.Numerics;

namespace NsqSharp.Common.Metrics;

/// <summary>Chooses and validates histogram bucket bounds.</summary>
internal static class HistogramBuckets
{
    /// <summary>
    /// Seconds, 100 µs .. 10 s: Prometheus' usual 5 ms .. 10 s ladder extended downwards, because
    /// broker operations (publish, fsync, delivery) are often sub-millisecond.
    /// </summary>
    public static readonly double[] DefaultSeconds =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Bounds must be finite and strictly increasing; returns a private copy.</summary>
    public static double[] Validate(string instrumentName, IReadOnlyList<double> bounds)
    {
        ArgumentNullException.ThrowIfNull(bounds);
        double[] copy = [.. bounds];
        if (!IsValid(copy))
        {
            throw new ArgumentException(
                $"Histogram buckets for '{instrumentName}' must be finite and strictly increasing.", nameof(bounds));
        }

        return copy;
    }

    public static bool IsValid(ReadOnlySpan<double> bounds)
    {
        for (int i = 0; i < bounds.Length; i++)
        {
            if (!double.IsFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>prometheus-net needs at least one bound (it appends +Inf itself): no bounds means only +Inf.</summary>
    public static double[] ForPrometheusNet(double[] bounds) => bounds.Length == 0 ? [double.PositiveInfinity] : bounds;

    /// <summary>Bucket boundaries the instrument's author advised (InstrumentAdvice), if any.</summary>
    public static double[]? FromAdvice(Instrument instrument) => instrument switch
    {
        Histogram<double> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<float> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<long> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<int> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<short> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<byte> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        Histogram<decimal> h => ToDoubles(h.Advice?.HistogramBucketBoundaries),
        _ => null,
    };

    private static double[]? ToDoubles<T>(IReadOnlyList<T>? bounds)
        where T : struct, INumberBase<T>
    {
        if (bounds is null)
        {
            return null;
        }

        double[] result = new double[bounds.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = double.CreateChecked(bounds[i]);
        }

        return result;
    }
}
