using CommandLine;

namespace NsqSharp.Bench.Cli;

[Verb("selftest", HelpText = "measure nsq_bench itself: run writer then reader against a built-in null broker that stores nothing " +
    "and answers at once. The rates are the tool's ceiling on this machine (the null broker shares the CPU, so they are a lower bound); " +
    "a broker figure near them says the tool, not the broker, was the limit.")]
internal sealed class SelftestOptions
{
    [Option("runfor", Default = "5s", HelpText = "duration of each of the two runs")]
    public string RunFor { get; set; } = "5s";

    [Option("size", Default = 200, HelpText = "message body size in bytes")]
    public int Size { get; set; }

    [Option("batch-size", Default = 200, HelpText = "messages per MPUB")]
    public int BatchSize { get; set; }

    [Option("concurrency", Default = 0, HelpText = "connections per side (0 = number of processors)")]
    public int Concurrency { get; set; }

    [Option("progress", Default = "auto", HelpText = "live progress: auto, on, off")]
    public string Progress { get; set; } = "auto";
}
