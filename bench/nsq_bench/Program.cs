using CommandLine;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Modes;
using NsqSharp.Bench.Report;

// nsq_bench: load generator for any NSQ-compatible broker (upstream nsqd or ours), speaking TCP V2
// over raw sockets. Every run ends its stdout with one JSON object of figures for scripts.
Type[] verbs =
[
    typeof(WriterOptions), typeof(ReaderOptions), typeof(PubSubOptions), typeof(FanoutOptions), typeof(ManyTopicsOptions),
    typeof(LatencyOptions), typeof(FailoverOptions), typeof(CompareCommandOptions), typeof(TableOptions), typeof(SelftestOptions), typeof(ResourcesOptions),
];
var normalized = ArgumentNormalizer.Normalize(args, verbs);
var parser = new Parser(s =>
{
    s.HelpWriter = null; // HelpPrinter adds each verb's description to its help
    s.CaseSensitive = true;
});

var parsed = parser.ParseArguments(normalized, verbs);
if (parsed is not Parsed<object> ok)
{
    return HelpPrinter.Print((NotParsed<object>)parsed, a => parser.ParseArguments(a, verbs));
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
        FailoverOptions o => RunOutputs.Emit(await FailoverRunner.RunAsync(FailoverPlan.From(o)), o),
        CompareCommandOptions o => await NsqSharp.Bench.Compare.CompareRunner.RunAsync(o),
        TableOptions o => SummaryTable.Run(o),
        SelftestOptions o => await NsqSharp.Bench.Selftest.SelftestRunner.RunAsync(o),
        ResourcesOptions o => await NsqSharp.Bench.Resources.ResourcesRunner.RunAsync(o),
        _ => 2,
    };
}
catch (FormatException e)
{
    Console.Error.WriteLine($"nsq_bench: {e.Message}");
    return 2;
}
