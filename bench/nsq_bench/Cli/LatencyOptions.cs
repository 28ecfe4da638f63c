using CommandLine;
using CommandLine.Text;

namespace NsqSharp.Bench.Cli;

[Verb("latency", HelpText = "open-loop publishing at a fixed --rate; ack (publish -> OK) and end-to-end (publish -> handler) latency percentiles, " +
    "measured from each message's scheduled send time so a stalled broker cannot hide its delay (no coordinated omission). " +
    "The JSON's p50_us..max_us are end-to-end; ack_* and e2e_* give both.")]
internal sealed class LatencyOptions : CommonOptions
{
    [Usage(ApplicationAlias = "nsq_bench")]
    public static IEnumerable<Example> Examples =>
    [
        new("20,000 msg/s for 30 s, percentiles and plots", new UnParserSettings { SkipDefault = true, PreferShortName = false }, new LatencyOptions { Rate = 20000, RunFor = "30s", SvgOut = "/tmp/lat" }),
    ];

    [Option("rate", Default = 10000, HelpText = "messages per second to publish, spread evenly over the connections")]
    public int Rate { get; set; }

    [Option("batch-size", Default = 1, HelpText = "messages per publish (1 sends PUB, more sends MPUB stamped with the batch's scheduled time)")]
    public int BatchSize { get; set; }

    [Option("warmup", Default = "1s", HelpText = "leading part of --runfor excluded from the percentiles")]
    public string Warmup { get; set; } = "1s";

    [Option("drain-timeout", Default = "10s", HelpText = "after publishing stops, how long to wait for outstanding OKs and deliveries")]
    public string DrainTimeout { get; set; } = "10s";

    [Option("rdy", Default = 2500, HelpText = "RDY count of each consuming connection")]
    public int Rdy { get; set; }

    [Option("timer", Default = "sleep", HelpText = "how the sender waits for the next send time: sleep (~1 ms granularity, shows as send_lag) or spin (precise, burns a core)")]
    public string Timer { get; set; } = "sleep";

    [Option("output-buffer-size", Default = -1, HelpText = "consumer IDENTIFY output_buffer_size (-1 = unbuffered, 0 = server default 16384)")]
    public int OutputBufferSize { get; set; }

    [Option("output-buffer-timeout", Default = 0, HelpText = "consumer IDENTIFY output_buffer_timeout in ms (0 = server default 250ms, -1 = none)")]
    public int OutputBufferTimeout { get; set; }
}
