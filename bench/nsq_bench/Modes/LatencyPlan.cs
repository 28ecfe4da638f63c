using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Load;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Modes;

/// <summary>A latency run resolved from flags (where it connects is decided at the run's start, as in <see cref="ThroughputPlan"/>).</summary>
internal sealed record LatencyPlan(
    string Address,
    string Topic,
    string Channel,
    int Concurrency,
    int Size,
    int BatchSize,
    int Rate,
    TimeSpan RunFor,
    TimeSpan Warmup,
    TimeSpan DrainTimeout,
    int Rdy,
    bool Spin,
    int OutputBufferSize,
    int OutputBufferTimeoutMs,
    long RunId,
    DateTime? StartAtUtc,
    int BrokerPid,
    TimeSpan SampleInterval,
    string Progress,
    string Label,
    LookupdSettings Lookupd)
{
    public static LatencyPlan From(LatencyOptions o)
    {
        ThroughputPlan.Require(o.Size >= LatencySink.StampLength, $"--size must be >= {LatencySink.StampLength} in latency mode (the body carries a send stamp)");
        ThroughputPlan.Require(o.Rate > 0, "--rate must be > 0");
        ThroughputPlan.Require(o.BatchSize > 0, "--batch-size must be > 0");
        ThroughputPlan.Require(o.Rdy > 0, "--rdy must be > 0");
        ThroughputPlan.Require(o.Timer is "sleep" or "spin", "--timer must be sleep or spin");
        var runFor = GoDuration.Parse(o.RunFor);
        var warmup = GoDuration.Parse(o.Warmup);
        ThroughputPlan.Require(runFor > warmup && warmup >= TimeSpan.Zero, "--runfor must be longer than --warmup");
        var concurrency = o.Concurrency > 0 ? o.Concurrency : Environment.ProcessorCount;
        var runId = Random.Shared.NextInt64(1, long.MaxValue);
        var topic = o.Topic ?? $"sub_bench_latency_{runId & 0xffffffff:x8}";
        ThroughputPlan.RequireValidNames([topic], [o.Channel]);
        var lookupd = ThroughputPlan.LookupdOf(o);
        return new LatencyPlan(
            o.NsqdTcpAddress,
            topic,
            o.Channel,
            concurrency,
            o.Size,
            o.BatchSize,
            o.Rate,
            runFor,
            warmup,
            GoDuration.Parse(o.DrainTimeout),
            o.Rdy,
            o.Timer == "spin",
            o.OutputBufferSize,
            o.OutputBufferTimeout,
            runId,
            ThroughputPlan.ParseDeadline(o.Deadline),
            o.BrokerPid,
            GoDuration.Parse(o.SampleInterval),
            o.Progress,
            o.Label,
            lookupd);
    }
}
