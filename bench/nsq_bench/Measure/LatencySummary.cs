namespace NsqSharp.Bench.Measure;

/// <summary>Percentiles of one latency histogram in microseconds, plus the points for a percentile plot.</summary>
internal sealed record LatencySummary(long Count, double P50Us, double P90Us, double P99Us, double P999Us, double MaxUs,
    IReadOnlyList<(double Percentile, double ValueUs)> Distribution)
{
    public static LatencySummary FromNanoseconds(LogLinearHistogram h)
    {
        static double Us(long ns) => Math.Round(ns / 1000.0, 1);
        var points = new List<(double, double)>();
        // Percentiles spaced evenly on the "nines" axis (log of 1/(1-p)), as HdrHistogram plots do.
        for (var nines = 0.0; nines <= 5.0001; nines += 0.1)
        {
            var p = 100.0 * (1 - Math.Pow(10, -nines));
            points.Add((p, Us(h.ValueAtPercentile(p))));
        }

        return new LatencySummary(h.Count, Us(h.ValueAtPercentile(50)), Us(h.ValueAtPercentile(90)), Us(h.ValueAtPercentile(99)),
            Us(h.ValueAtPercentile(99.9)), Us(h.Count == 0 ? 0 : h.Max), points);
    }
}
