using CommandLine;
using CommandLine.Text;

namespace NsqSharp.Bench.Cli;

/// <summary>Flags of the closed-loop throughput modes (bench_writer / bench_reader and their combinations).</summary>
internal abstract class ThroughputOptions : CommonOptions
{
    [Option("batch-size", Default = 200, HelpText = "messages per MPUB (1 sends PUB)")]
    public int BatchSize { get; set; }

    [Option("pipeline", Default = 1, HelpText = "publish commands in flight per connection before waiting for an OK (upstream bench_writer: 1)")]
    public int Pipeline { get; set; }

    [Option("rdy", Default = 2500, HelpText = "RDY count of each consuming connection (capped at the server's max_rdy_count)")]
    public int Rdy { get; set; }

    public abstract int Topics { get; set; }

    public abstract int Channels { get; set; }
}

[Verb("writer", HelpText = "bench_writer: each connection sends MPUB batches and waits for every OK; reports publish msgs/s")]
internal sealed class WriterOptions : ThroughputOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("upstream bench_writer defaults (MPUB 200 x 200 B for 10 s, one connection per processor)", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new WriterOptions { Topics = 1 }),
        new("4 connections, 1 KiB messages, 30 s", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new WriterOptions { Topics = 1, NsqdTcpAddress = "127.0.0.1:4150", Size = 1024, Concurrency = 4, RunFor = "30s" }),
        new("a cluster: the leaders from nsqlookupd, the topic created with 3 replicas and min_isr 2 if it is new",
            new UnParserSettings { SkipDefault = true, PreferShortName = false },
            new WriterOptions { Topics = 1, LookupdHttpAddresses = ["127.0.0.1:4161"], Replicas = 3, MinIsr = 2 }),
    ];

    [Option("topics", Default = 1, HelpText = "number of topics the connections publish to, round-robin")]
    public override int Topics { get; set; }

    public override int Channels { get; set; } = 1;
}

[Verb("reader", HelpText = "bench_reader: each connection SUBs with RDY 2500 and FINs every message; reports consume msgs/s")]
internal sealed class ReaderOptions : ThroughputOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("drain what writer published (upstream bench_reader: RDY 2500, FIN each)", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new ReaderOptions { Topics = 1, Channels = 1 }),
    ];

    [Option("topics", Default = 1, HelpText = "number of topics to consume (as given to writer --topics)")]
    public override int Topics { get; set; }

    [Option("channels", Default = 1, HelpText = "channels per topic, each consumed by its own connections")]
    public override int Channels { get; set; }

    [Option("idle-stop", Default = "2s", HelpText = "stop early once no message arrived for this long (backlog drained); the rate then covers start..last message. 0 = run the full --runfor")]
    public string IdleStop { get; set; } = "2s";
}

[Verb("pubsub", HelpText = "writer and reader at once on the same topic; reports publish and consume msgs/s")]
internal sealed class PubSubOptions : ThroughputOptions
{
    [Option("topics", Default = 1, HelpText = "number of topics (each with writers and readers)")]
    public override int Topics { get; set; }

    [Option("channels", Default = 1, HelpText = "channels per topic (consumer fan-out)")]
    public override int Channels { get; set; }
}

[Verb("fanout", HelpText = "pubsub with N channels per topic: every message is delivered N times; reports deliveries/s")]
internal sealed class FanoutOptions : ThroughputOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("every message to 8 channels", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new FanoutOptions { Topics = 1, Channels = 8, Topic = "fanout_bench" }),
    ];

    [Option("topics", Default = 1, HelpText = "number of topics")]
    public override int Topics { get; set; }

    [Option("channels", Default = 4, HelpText = "channels per topic, each with its own consuming connections")]
    public override int Channels { get; set; }
}

[Verb("manytopics", HelpText = "pubsub over many topics and connections: one writer and one reader connection per topic unless --concurrency says more")]
internal sealed class ManyTopicsOptions : ThroughputOptions
{
    [Option("topics", Default = 16, HelpText = "number of topics")]
    public override int Topics { get; set; }

    [Option("channels", Default = 1, HelpText = "channels per topic")]
    public override int Channels { get; set; }
}
