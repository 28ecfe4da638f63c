using CommandLine;

namespace NsqSharp.Bench.Cli;

[Verb("table", HelpText = "read result lines (the JSON each run prints last; other lines are skipped) and print a markdown table " +
    "with min / median / max per run label; then, when there are latency runs, their ack and end-to-end percentiles, and for failover runs " +
    "the failover times. Used by bench/run-benchmarks.sh and bench/run-cluster-benchmarks.sh for docs/BENCHMARKS.md.")]
internal sealed class TableOptions
{
    [Option("ratio", Default = "", HelpText = "also print the ratio of two labels' median msgs/s, \"<label> vs <label>\" (several separated by ';'), " +
        "e.g. \"cluster writer vs single-node fsync writer\"; the per-round ratios pair the runs in order")]
    public string Ratio { get; set; } = "";

    [Value(0, MetaName = "files", HelpText = "files holding result lines (\"-\" or none = stdin)")]
    public IEnumerable<string> Files { get; set; } = [];
}
