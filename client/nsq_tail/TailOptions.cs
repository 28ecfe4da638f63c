using CommandLine;

namespace NsqSharp.Tools.Tail;

/// <summary>nsq_tail's flags, named as upstream's (nsq 1.3.0 apps/nsq_tail).</summary>
internal sealed class TailOptions
{
    public static readonly IReadOnlySet<string> ShortNames = new HashSet<string>(StringComparer.Ordinal) { "n" };

    [Option("topic", HelpText = "NSQ topic (may be given multiple times)")]
    public IEnumerable<string> Topics { get; set; } = [];

    [Option("channel", HelpText = "NSQ channel (default: tail<random>#ephemeral)")]
    public string? Channel { get; set; }

    [Option("max-in-flight", Default = 200, HelpText = "max number of messages to allow in flight")]
    public int MaxInFlight { get; set; } = 200;

    [Option('n', Default = 0, HelpText = "total messages to show (will wait if starved)")]
    public int TotalMessages { get; set; }

    [Option("print-topic", HelpText = "print topic name where message was received")]
    public bool PrintTopic { get; set; }

    [Option("nsqd-tcp-address", HelpText = "nsqd TCP address (may be given multiple times)")]
    public IEnumerable<string> NsqdTcpAddresses { get; set; } = [];

    [Option("lookupd-http-address", HelpText = "lookupd HTTP address (may be given multiple times)")]
    public IEnumerable<string> LookupdHttpAddresses { get; set; } = [];

    [Option("consumer-opt", HelpText = "option to passthrough to the consumer as name,value (may be given multiple times; go-nsq Config names, e.g. max_attempts,10)")]
    public IEnumerable<string> ConsumerOptions { get; set; } = [];

    [Option("reader-opt", Hidden = true, HelpText = "(deprecated) use --consumer-opt")]
    public IEnumerable<string> ReaderOptions { get; set; } = [];

    [Option("version", HelpText = "print version string")]
    public bool Version { get; set; }
}
