using CommandLine;

namespace NsqSharp.Chaos.Cli;

/// <summary>nsq_chaos's flags (chaos-tests/run.sh passes them through; names are a contract).</summary>
internal sealed class ChaosOptions
{
    [Option("scenario", HelpText = "the scenario to run, or 'list' to list them")]
    public string? Scenario { get; set; }

    [Option("time", Default = "", HelpText = "how long the nemesis works (Go duration, e.g. 60s; default: the scenario's)")]
    public string Time { get; set; } = "";

    [Option("seed", HelpText = "seed of the fault schedule: the same seed gives the same schedule (default: random, printed)")]
    public int? Seed { get; set; }

    [Option("out", HelpText = "output directory: history.jsonl, report.md, timeline.svg, the members' logs and data (default: a new chaos-out/<scenario>-<time> directory)")]
    public string? Out { get; set; }

    [Option("check", HelpText = "only check a saved history (JSON lines); with --out, also write its report there")]
    public string? Check { get; set; }

    [Option("loopback", Default = false, HelpText = "no network namespaces even where they could be made (kill and pause faults only)")]
    public bool Loopback { get; set; }

    [Option("unsafe-broker", Default = false, HelpText = "SELF-TEST: run nsqd with --debug-unsafe-ack-leader-only (acks before replicating); the checker must find lost messages")]
    public bool UnsafeBroker { get; set; }

    [Option("consume-after", Default = false, HelpText = "consumers start only at the final drain: every acknowledged message must still be in the log after all the faults")]
    public bool ConsumeAfter { get; set; }

    [Option("nsqd-args", HelpText = "extra flags for every nsqd (repeatable)")]
    public IEnumerable<string> NsqdArgs { get; set; } = [];
}
