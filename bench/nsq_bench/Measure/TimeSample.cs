namespace NsqSharp.Bench.Measure;

/// <summary>One point of the run's time series: per-series rate over the last interval, totals, process resources.</summary>
internal sealed record TimeSample(
    double ElapsedSeconds,
    double[] Rates,
    long[] Totals,
    double? BrokerCpuPercent,
    double? BrokerRssMib,
    double? ToolCpuPercent,
    double? OtherCpuPercent);
