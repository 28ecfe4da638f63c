using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Cluster;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Modes;

/// <summary>A failover run resolved from flags (see <see cref="FailoverOptions"/>).</summary>
internal sealed record FailoverPlan(
    string Topic,
    LookupdSettings Lookupd,
    int Size,
    int Rate,
    int ConnectionsPerNode,
    int Kills,
    string RestartCommand,
    TimeSpan Warmup,
    TimeSpan FailoverTimeout,
    TimeSpan RecoverTimeout,
    TimeSpan Settle,
    string Label)
{
    public static FailoverPlan From(FailoverOptions o)
    {
        ThroughputPlan.Require(o.Size > 0, "--size must be > 0");
        ThroughputPlan.Require(o.Rate is > 0 and <= 100_000, "--rate must be in 1..100000");
        ThroughputPlan.Require(o.Concurrency >= 0, "--concurrency must be >= 0");
        ThroughputPlan.Require(o.Kills >= 1, "--kills must be >= 1");
        ThroughputPlan.Require(o.Kills == 1 || o.RestartCommand.Trim().Length > 0,
            "--kills > 1 needs --restart-cmd (the killed node must come back into the ISR before the next kill)");
        var topic = o.Topic ?? $"sub_bench_failover_{Random.Shared.NextInt64(1, long.MaxValue) & 0xffffffff:x8}";
        ThroughputPlan.RequireValidNames([topic], []);
        var lookupd = LookupdSettings.From(o.LookupdHttpAddresses, 1, o.Replicas, o.MinIsr);
        ThroughputPlan.Require(lookupd.Enabled, "failover needs --lookupd-http-address");
        var warmup = GoDuration.Parse(o.Warmup);
        var failover = GoDuration.Parse(o.FailoverTimeout);
        var recover = GoDuration.Parse(o.RecoverTimeout);
        var settle = GoDuration.Parse(o.Settle);
        ThroughputPlan.Require(warmup >= TimeSpan.Zero && settle >= TimeSpan.Zero, "--warmup and --settle must be >= 0");
        ThroughputPlan.Require(failover > TimeSpan.Zero && recover > TimeSpan.Zero, "--failover-timeout and --recover-timeout must be > 0");
        return new FailoverPlan(topic, lookupd, o.Size, o.Rate, o.Concurrency > 0 ? o.Concurrency : 1, o.Kills, o.RestartCommand.Trim(),
            warmup, failover, recover, settle, o.Label);
    }
}
