using CommandLine;
using CommandLine.Text;

namespace NsqSharp.Bench.Cli;

[Verb("failover", HelpText = "cluster mode (needs --lookupd-http-address): how long a topic takes writes again after its leader is SIGKILLed. " +
    "Creates a one-partition topic (--replicas, --min-isr), opens --concurrency connections to every replica (followers forward to the leader) " +
    "and sends PUBs at --rate, round-robin over the connections that are up. Then --kills times: SIGKILL the partition's leader (the local process " +
    "listening on its TCP port, so the nodes must run on this machine), measure the time from the kill until the first PUB sent after it is " +
    "acknowledged (and until lookupd names the new leader), run --restart-cmd and wait until the node is back in the ISR, settle, repeat. " +
    "Reports each failover and min / median / max (failover_ms_*).")]
internal sealed class FailoverOptions : IRunOutputOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("5 kills; a script restarts the killed node (its id replaces {node_id})", new UnParserSettings { SkipDefault = true, PreferShortName = false },
            new FailoverOptions { LookupdHttpAddresses = ["127.0.0.1:4161"], RestartCommand = "./restart-node.sh {node_id}" }),
    ];

    [Option("lookupd-http-address", Required = true, Separator = ',', HelpText = "<addr>:<port> of an nsqlookupd in cluster mode (repeatable): " +
        "the topic is created there and its leader and replicas are read from GET /lookup and GET /cluster")]
    public IEnumerable<string> LookupdHttpAddresses { get; set; } = [];

    [Option("topic", HelpText = "topic to use (default a fresh sub_bench_failover_<id>); it must have one partition")]
    public string? Topic { get; set; }

    [Option("replicas", Default = 0, HelpText = "replicas of the topic created (0 = lookupd's default, min(3, live nodes))")]
    public int Replicas { get; set; }

    [Option("min-isr", Default = 0, HelpText = "min_isr of the topic created (0 = lookupd's default: 2 from 3 replicas on)")]
    public int MinIsr { get; set; }

    [Option("size", Default = 200, HelpText = "message body size in bytes")]
    public int Size { get; set; }

    [Option("rate", Default = 1000, HelpText = "PUBs per second over all connections (the resolution of the measurement is about 1/rate)")]
    public int Rate { get; set; }

    [Option("concurrency", Default = 0, HelpText = "connections per replica (0 = 1)")]
    public int Concurrency { get; set; }

    [Option("kills", Default = 5, HelpText = "how many times to SIGKILL the leader (more than 1 needs --restart-cmd)")]
    public int Kills { get; set; }

    [Option("restart-cmd", Default = "", HelpText = "shell command (sh -c) that starts the killed node again and returns; {node_id}, {tcp_address} and {pid} " +
        "(the killed one) are replaced. Its output goes to stderr; bounded by 60s")]
    public string RestartCommand { get; set; } = "";

    [Option("warmup", Default = "2s", HelpText = "publishing before the first kill (Go duration)")]
    public string Warmup { get; set; } = "2s";

    [Option("failover-timeout", Default = "60s", HelpText = "bound on waiting for the first acknowledgement after a kill")]
    public string FailoverTimeout { get; set; } = "60s";

    [Option("recover-timeout", Default = "120s", HelpText = "bound on the restart until the node is back in the ISR and its connections publish again")]
    public string RecoverTimeout { get; set; } = "120s";

    [Option("settle", Default = "1s", HelpText = "pause after a recovery before the next kill")]
    public string Settle { get; set; } = "1s";

    [Option("label", Default = "", HelpText = "name of this run in JSON and tables")]
    public string Label { get; set; } = "";

    [Option("json-out", HelpText = "also write the full result as JSON to this file")]
    public string? JsonOut { get; set; }

    [Option("markdown-out", HelpText = "append a markdown table row of the result to this file")]
    public string? MarkdownOut { get; set; }

    public string? SvgOut => null;
}
