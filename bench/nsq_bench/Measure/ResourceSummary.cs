namespace NsqSharp.Bench.Measure;

/// <summary>CPU and RSS of a process over a run, from the sampled time series.</summary>
internal sealed record ResourceSummary(int Pid, double CpuAvgPercent, double CpuMaxPercent, double RssStartMib, double RssMaxMib, double RssEndMib)
{
    public static ResourceSummary? FromBroker(int? pid, IReadOnlyList<TimeSample> samples)
    {
        if (pid is null)
        {
            return null;
        }

        double cpuSum = 0, cpuMax = 0, rssMax = 0;
        double? rssStart = null, rssEnd = null;
        var n = 0;
        foreach (var s in samples)
        {
            if (s.BrokerCpuPercent is not { } cpu || s.BrokerRssMib is not { } rss)
            {
                continue;
            }

            n++;
            cpuSum += cpu;
            cpuMax = Math.Max(cpuMax, cpu);
            rssMax = Math.Max(rssMax, rss);
            rssStart ??= rss;
            rssEnd = rss;
        }

        return n == 0 ? null : new ResourceSummary(pid.Value, cpuSum / n, cpuMax, rssStart ?? 0, rssMax, rssEnd ?? 0);
    }

    public static double Average(IReadOnlyList<TimeSample> samples, Func<TimeSample, double?> pick)
    {
        double sum = 0;
        var n = 0;
        foreach (var s in samples)
        {
            if (pick(s) is { } cpu)
            {
                sum += cpu;
                n++;
            }
        }

        return n == 0 ? 0 : sum / n;
    }
}
