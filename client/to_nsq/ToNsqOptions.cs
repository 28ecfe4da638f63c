using CommandLine;

namespace NsqSharp.Tools.ToNsq;

/// <summary>to_nsq's flags, named as upstream's (nsq 1.3.0 apps/to_nsq).</summary>
internal sealed class ToNsqOptions
{
    [Option("topic", HelpText = "NSQ topic to publish to")]
    public string? Topic { get; set; }

    [Option("delimiter", HelpText = "character to split input from stdin (default \"\\n\")")]
    public string Delimiter { get; set; } = "\n";

    [Option("nsqd-tcp-address", HelpText = "destination nsqd TCP address (may be given multiple times)")]
    public IEnumerable<string> NsqdTcpAddresses { get; set; } = [];

    [Option("producer-opt", HelpText = "option to passthrough to the producer as name,value (may be given multiple times; go-nsq Config names, e.g. snappy,true)")]
    public IEnumerable<string> ProducerOptions { get; set; } = [];

    [Option("rate", Default = 0L, HelpText = "Throttle messages to n/second. 0 to disable")]
    public long Rate { get; set; }

    [Option("version", HelpText = "print version string")]
    public bool Version { get; set; }
}
