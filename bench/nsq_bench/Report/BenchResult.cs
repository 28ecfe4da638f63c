using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Report;

/// <summary>Everything one run measured; the JSON line, markdown row and plots are views of it.</summary>
internal sealed class BenchResult
{
    public required string Mode { get; init; }

    public string Label { get; set; } = "";

    /// <summary>The nsqd address, or (from lookupd) the addresses used, comma-separated.</summary>
    public required string Target { get; set; }

    /// <summary>Where the load went when lookupd was asked (null with --nsqd-tcp-address).</summary>
    public Routes? Routes { get; set; }

    /// <summary>With lookupd: the nsqd TCP addresses the connections went to (the leaders; failover: every replica).</summary>
    public IReadOnlyList<string> NsqdAddresses { get; set; } = [];

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public int Size { get; init; }

    public int BatchSize { get; init; }

    public int Writers { get; set; }

    public int Readers { get; set; }

    public int Topics { get; init; }

    public int Channels { get; init; }

    public double DurationSeconds { get; set; }

    public long Published { get; set; }

    public long Consumed { get; set; }

    public double PubMsgsPerSec { get; set; }

    public double SubMsgsPerSec { get; set; }

    /// <summary>The headline: publish rate for writer, consume (delivery) rate for the modes that consume.</summary>
    public double MsgsPerSec { get; set; }

    public double MibPerSec => MsgsPerSec * Size / (1024.0 * 1024.0);

    // --- latency mode ---
    public double? TargetRate { get; init; }

    public LatencySummary? Ack { get; set; }

    public LatencySummary? EndToEnd { get; set; }

    public LatencySummary? SendLag { get; set; }

    public long Unacked { get; set; }

    public long Undelivered { get; set; }

    // --- failover ---
    public FailoverSummary? Failover { get; set; }

    // --- resources ---

    /// <summary>CPU and RSS of the broker, summed over <see cref="BrokerPids"/> when there are several (a cluster's nodes).</summary>
    public ResourceSummary? Broker { get; set; }

    public IReadOnlyList<int> BrokerPids { get; set; } = [];

    public double ToolCpuAvgPercent { get; set; }

    /// <summary>CPU used by everything but the broker and this tool: other load on the machine during the run.</summary>
    public double OtherCpuAvgPercent { get; set; }

    public string LoadBefore { get; init; } = LoadAverage.Read();

    /// <summary>Copies what the sampler saw during the run (time series, broker and machine CPU/RSS) into the result.</summary>
    public void AttachSamples(RunSampler sampler)
    {
        SeriesNames = sampler.SeriesNames;
        Samples = sampler.Samples;
        BrokerPids = sampler.BrokerPids;
        Broker = ResourceSummary.FromBroker(BrokerPids.Count > 0 ? BrokerPids[0] : null, sampler.Samples);
        ToolCpuAvgPercent = ResourceSummary.Average(sampler.Samples, s => s.ToolCpuPercent);
        OtherCpuAvgPercent = ResourceSummary.Average(sampler.Samples, s => s.OtherCpuPercent);
    }

    public IReadOnlyList<string> SeriesNames { get; set; } = [];

    public IReadOnlyList<TimeSample> Samples { get; set; } = [];

    /// <summary>Set when the run failed (broker error, connection refused); the figures are then partial.</summary>
    public string? Error { get; set; }
}
