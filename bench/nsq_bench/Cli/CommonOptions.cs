using CommandLine;

namespace NsqSharp.Bench.Cli;

/// <summary>Flags every load mode takes: the target, the run's shape, and where results go.</summary>
internal abstract class CommonOptions : IRunOutputOptions
{
    [Option("nsqd-tcp-address", Default = "127.0.0.1:4150", HelpText = "<addr>:<port> of the nsqd to benchmark (any NSQ-compatible broker); ignored with --lookupd-http-address")]
    public string NsqdTcpAddress { get; set; } = "127.0.0.1:4150";

    [Option("lookupd-http-address", Separator = ',', HelpText = "<addr>:<port> of an nsqlookupd (repeat the flag, or comma-separate, for several): " +
        "cluster mode of nsq_bench. The topic's leaders are found with GET /lookup (the topic is created first with POST /topic/create " +
        "when no lookupd knows it) and the connections are spread over the leaders' TCP addresses (broadcast_address:tcp_port) instead of " +
        "--nsqd-tcp-address; consumers get at least one connection per leader, so every partition is read. An upstream lookupd (no " +
        "partitions in its answer) works too: its producers are used. The leaders are printed and the JSON lists them")]
    public IEnumerable<string> LookupdHttpAddresses { get; set; } = [];

    [Option("partitions", Default = 0, HelpText = "with --lookupd-http-address: partitions of a topic nsq_bench creates (0 = lookupd's default, 1)")]
    public int Partitions { get; set; }

    [Option("replicas", Default = 0, HelpText = "with --lookupd-http-address: replicas of a topic nsq_bench creates (0 = lookupd's default, min(3, live nodes))")]
    public int Replicas { get; set; }

    [Option("min-isr", Default = 0, HelpText = "with --lookupd-http-address: min_isr of a topic nsq_bench creates (0 = lookupd's default: 2 from 3 replicas on, else 1)")]
    public int MinIsr { get; set; }

    [Option("topic", HelpText = "topic to use (default sub_bench; with --topics N > 1 the topics are <topic>_0..<topic>_N-1; latency: a fresh topic per run)")]
    public string? Topic { get; set; }

    [Option("channel", Default = "ch", HelpText = "channel to consume (with --channels N > 1: <channel>_0..<channel>_N-1)")]
    public string Channel { get; set; } = "ch";

    [Option("size", Default = 200, HelpText = "size of each message body in bytes")]
    public int Size { get; set; }

    [Option("runfor", Default = "10s", HelpText = "duration of the measured run (Go duration: 10s, 1m30s)")]
    public string RunFor { get; set; } = "10s";

    [Option("deadline", Default = "", HelpText = "start at this UTC time (\"2006-01-02 15:04:05\", as upstream), to line up several nsq_bench processes")]
    public string Deadline { get; set; } = "";

    [Option("concurrency", Default = 0, HelpText = "connections per side, each with its own loop (0 = number of processors, as upstream's GOMAXPROCS)")]
    public int Concurrency { get; set; }

    [Option("broker-pid", Default = 0, HelpText = "pid of the broker whose CPU and RSS to sample from /proc (0 = the process listening on the target port, if local; " +
        "with --lookupd-http-address the processes of every replica of the topic, summed)")]
    public int BrokerPid { get; set; }

    [Option("label", Default = "", HelpText = "name of this run in JSON and tables (e.g. \"fsync writer\")")]
    public string Label { get; set; } = "";

    [Option("json-out", HelpText = "also write the full result (with the time series) as JSON to this file")]
    public string? JsonOut { get; set; }

    [Option("markdown-out", HelpText = "append a markdown table row of the result to this file (header written when the file is new)")]
    public string? MarkdownOut { get; set; }

    [Option("svg-out", HelpText = "write SVG plots to <prefix>-throughput.svg (and <prefix>-latency.svg in latency mode)")]
    public string? SvgOut { get; set; }

    [Option("progress", Default = "auto", HelpText = "live progress on stderr: auto (when stderr is a terminal), on (plain lines when not a terminal), off")]
    public string Progress { get; set; } = "auto";

    [Option("sample-interval", Default = "1s", HelpText = "how often to sample rates and the broker's CPU/RSS")]
    public string SampleInterval { get; set; } = "1s";
}
