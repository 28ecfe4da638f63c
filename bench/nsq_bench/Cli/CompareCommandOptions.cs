using CommandLine;
using CommandLine.Text;

namespace NsqSharp.Bench.Cli;

[Verb("compare", HelpText = "start broker A and broker B from their command lines, run the same scenarios on each in alternation " +
    "(A B, then B A, ...; a fresh broker and data dir per session), and print medians and B/A ratios. " +
    "Placeholders in a command line: {tcp_port} {http_port} {tcp_address} {http_address} {data_path}. " +
    "Without --b-cmd (or when its binary is missing) B is reported as \"not measured here\".")]
internal sealed class CompareCommandOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("ours against upstream, 3 alternating rounds", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new CompareCommandOptions
        {
            ACommand = "artifacts/bin/nsqd/release/nsqd --tcp-address={tcp_address} --http-address={http_address} --data-path={data_path}",
            BCommand = "/opt/nsq/bin/nsqd --tcp-address={tcp_address} --http-address={http_address} --data-path={data_path} --mem-queue-size=1000000",
        }),
    ];

    [Option("a-cmd", Required = true, HelpText = "command line of broker A, e.g. \"artifacts/bin/nsqd/release/nsqd --tcp-address={tcp_address} --http-address={http_address} --data-path={data_path}\"")]
    public string ACommand { get; set; } = "";

    [Option("a-name", Default = "nsqsharp", HelpText = "name of broker A in the report")]
    public string AName { get; set; } = "nsqsharp";

    [Option("b-cmd", Default = "", HelpText = "command line of broker B (e.g. upstream: \"/path/nsqd --tcp-address={tcp_address} --http-address={http_address} --data-path={data_path} --mem-queue-size=1000000\")")]
    public string BCommand { get; set; } = "";

    [Option("b-name", Default = "upstream", HelpText = "name of broker B in the report")]
    public string BName { get; set; } = "upstream";

    [Option("scenarios", Default = "writer,reader,pubsub,latency", HelpText = "comma-separated, run in this order on one broker session: writer, reader, pubsub, fanout, manytopics, latency")]
    public string Scenarios { get; set; } = "writer,reader,pubsub,latency";

    [Option("rounds", Default = 3, HelpText = "sessions per broker; medians are over rounds")]
    public int Rounds { get; set; }

    [Option("runfor", Default = "10s", HelpText = "duration of each scenario")]
    public string RunFor { get; set; } = "10s";

    [Option("size", Default = 200, HelpText = "message body size in bytes")]
    public int Size { get; set; }

    [Option("batch-size", Default = 200, HelpText = "messages per MPUB in the throughput scenarios")]
    public int BatchSize { get; set; }

    [Option("concurrency", Default = 0, HelpText = "connections per side (0 = number of processors)")]
    public int Concurrency { get; set; }

    [Option("channels", Default = 4, HelpText = "channels in the fanout scenario")]
    public int Channels { get; set; }

    [Option("topics", Default = 16, HelpText = "topics in the manytopics scenario")]
    public int Topics { get; set; }

    [Option("rate", Default = 10000, HelpText = "messages per second in the latency scenario")]
    public int Rate { get; set; }

    [Option("startup-timeout", Default = "30s", HelpText = "how long to wait for a started broker to accept TCP connections")]
    public string StartupTimeout { get; set; } = "30s";

    [Option("json-out", HelpText = "also write every scenario result of every session as JSON lines to this file")]
    public string? JsonOut { get; set; }

    [Option("markdown-out", HelpText = "write the comparison table to this markdown file")]
    public string? MarkdownOut { get; set; }

    [Option("progress", Default = "auto", HelpText = "live progress: auto, on, off")]
    public string Progress { get; set; } = "auto";
}
