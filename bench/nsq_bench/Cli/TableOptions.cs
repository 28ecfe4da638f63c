using CommandLine;

namespace NsqSharp.Bench.Cli;

[Verb("table", HelpText = "read result lines (the JSON each run prints last; other lines are skipped) and print a markdown table " +
    "with min / median / max per run label. Used by bench/run-benchmarks.sh for docs/BENCHMARKS.md.")]
internal sealed class TableOptions
{
    [Value(0, MetaName = "files", HelpText = "files holding result lines (\"-\" or none = stdin)")]
    public IEnumerable<string> Files { get; set; } = [];
}
