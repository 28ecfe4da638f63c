using CommandLine;

namespace NsqSharp.Bench.Cli;

[Verb("resources", HelpText = "what a broker holds (RSS, open fds) in one of three states: many topics, many idle connections, " +
    "a stuck consumer under large messages. Reads the broker's /proc entries, so the broker must be local")]
internal sealed class ResourcesOptions
{
    [Option("nsqd-tcp-address", Default = "127.0.0.1:4150", HelpText = "<addr>:<port> of the broker (any NSQ-compatible nsqd)")]
    public string NsqdTcpAddress { get; set; } = "127.0.0.1:4150";

    [Option("scenario", Required = true, HelpText = "topics: create --count topics (one PUB each); idle: hold --count identified idle " +
        "connections; stuck: a consumer takes one message and never finishes it while --bytes of --size messages are published")]
    public string Scenario { get; set; } = "";

    [Option("count", Default = 10000, HelpText = "topics (topics) or connections (idle)")]
    public int Count { get; set; }

    [Option("size", Default = 1048576, HelpText = "message body size in bytes (stuck; topics use 16 B)")]
    public int Size { get; set; }

    [Option("bytes", Default = 1073741824L, HelpText = "body bytes to publish (stuck)")]
    public long Bytes { get; set; }

    [Option("concurrency", Default = 8, HelpText = "connections creating topics in parallel (topics)")]
    public int Concurrency { get; set; }

    [Option("settle", Default = "3s", HelpText = "wait this long after the load before the final sample (Go duration)")]
    public string Settle { get; set; } = "3s";

    [Option("broker-pid", Default = 0, HelpText = "pid of the broker (0 = the process listening on the target port)")]
    public int BrokerPid { get; set; }

    [Option("label", Default = "", HelpText = "name of this run in the JSON line")]
    public string Label { get; set; } = "";

    [Option("progress", Default = "auto", HelpText = "progress lines on stderr: auto (when stderr is a terminal), on, off")]
    public string Progress { get; set; } = "auto";
}
