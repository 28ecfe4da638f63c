using CommandLine;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Modes;
using NsqSharp.Bench.Report;
using NsqSharp.Common.Cli;

// nsq_bench: load generator for any NSQ-compatible broker (upstream nsqd or ours), speaking TCP V2
// over raw sockets. Every run ends its stdout with one JSON object of figures for scripts.
string[] normalized = GoStyleArgs.Normalize(args, new HashSet<string>(StringComparer.Ordinal));
var parser = new Parser(s =>
{
    s.HelpWriter = Console.Out;
    s.CaseSensitive = true;
    s.AutoVersion = false;
});

var parsed = parser.ParseArguments<WriterOptions, ReaderOptions, PubSubOptions, FanoutOptions, ManyTopicsOptions, LatencyOptions,
    CompareCommandOptions, TableOptions>(normalized);
if (parsed is not Parsed<object> ok)
{
    return parsed.Errors.All(e => e is HelpRequestedError or HelpVerbRequestedError or VersionRequestedError) ? 0 : 2;
}

try
{
    return ok.Value switch
    {
        WriterOptions o => RunOutputs.Emit(await ThroughputRunner.RunAsync(ThroughputPlan.From("writer", o)), o),
        ReaderOptions o => RunOutputs.Emit(await ThroughputRunner.RunAsync(ThroughputPlan.From("reader", o)), o),
        PubSubOptions o => RunOutputs.Emit(await ThroughputRunner.RunAsync(ThroughputPlan.From("pubsub", o)), o),
        FanoutOptions o => RunOutputs.Emit(await ThroughputRunner.RunAsync(ThroughputPlan.From("fanout", o)), o),
        ManyTopicsOptions o => RunOutputs.Emit(await ThroughputRunner.RunAsync(ThroughputPlan.From("manytopics", o)), o),
        LatencyOptions o => RunOutputs.Emit(await LatencyRunner.RunAsync(LatencyPlan.From(o)), o),
        CompareCommandOptions o => await NsqSharp.Bench.Compare.CompareRunner.RunAsync(o),
        TableOptions o => SummaryTable.Run(o),
        _ => 2,
    };
}
catch (FormatException e)
{
    Console.Error.WriteLine($"nsq_bench: {e.Message}");
    return 2;
}
