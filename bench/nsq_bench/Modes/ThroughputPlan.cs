using System.Globalization;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Cluster;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Modes;

/// <summary>
/// A closed-loop run resolved from flags: which connections publish or consume what, for how long. Where they connect
/// is decided at the start of the run (<see cref="Routes"/>: --nsqd-tcp-address, or the leaders lookupd names).
/// </summary>
internal sealed record ThroughputPlan(
    string Mode,
    string Address,
    string[] Topics,
    string[] Channels,
    int Concurrency,
    bool Publishes,
    bool Consumes,
    int Size,
    int BatchSize,
    int Pipeline,
    int Rdy,
    TimeSpan RunFor,
    TimeSpan IdleStop,
    DateTime? StartAtUtc,
    int BrokerPid,
    TimeSpan SampleInterval,
    string Progress,
    string Label,
    LookupdSettings Lookupd)
{
    public const string DefaultTopic = "sub_bench";

    /// <summary>The publishing connections over these routes (none in reader mode).</summary>
    public List<PublishTarget> WriterTargets(Routes routes) => Publishes ? TargetAssignment.Publishers(Topics, routes, Concurrency) : [];

    /// <summary>The consuming connections over these routes (none in writer mode).</summary>
    public List<ConsumeTarget> ReaderTargets(Routes routes) => Consumes ? TargetAssignment.Consumers(Topics, Channels, routes, Concurrency) : [];

    public static ThroughputPlan From(string mode, ThroughputOptions o)
    {
        Require(o.Size > 0, "--size must be > 0");
        Require(o.BatchSize > 0, "--batch-size must be > 0");
        Require(o.Pipeline > 0, "--pipeline must be > 0");
        Require(o.Rdy > 0, "--rdy must be > 0");
        Require(o.Topics > 0, "--topics must be > 0");
        Require(o.Channels > 0, "--channels must be > 0");
        Require(o.Concurrency >= 0, "--concurrency must be >= 0");
        var concurrency = o.Concurrency > 0 ? o.Concurrency : mode == "manytopics" ? o.Topics : Environment.ProcessorCount;
        var topics = Names(o.Topic ?? DefaultTopic, o.Topics);
        var channels = Names(o.Channel, o.Channels);
        RequireValidNames(topics, channels);
        var publishes = mode != "reader";
        var consumes = mode != "writer";
        var runFor = GoDuration.Parse(o.RunFor);
        Require(runFor > TimeSpan.Zero, "--runfor must be > 0");
        var idle = o is ReaderOptions r ? GoDuration.Parse(r.IdleStop) : TimeSpan.Zero;
        var lookupd = LookupdOf(o);
        return new ThroughputPlan(
            mode,
            o.NsqdTcpAddress,
            topics,
            channels,
            concurrency,
            publishes,
            consumes,
            o.Size,
            o.BatchSize,
            o.Pipeline,
            o.Rdy,
            runFor,
            idle,
            ParseDeadline(o.Deadline),
            o.BrokerPid,
            GoDuration.Parse(o.SampleInterval),
            o.Progress,
            o.Label,
            lookupd);
    }

    /// <summary>The lookupd flags, checked; without them --nsqd-tcp-address is checked instead (both are usage errors).</summary>
    public static LookupdSettings LookupdOf(CommonOptions o)
    {
        var lookupd = LookupdSettings.From(o.LookupdHttpAddresses, o.Partitions, o.Replicas, o.MinIsr);
        if (!lookupd.Enabled)
        {
            _ = Wire.NsqEndpoint.Parse(o.NsqdTcpAddress);
        }

        return lookupd;
    }

    /// <summary>One name, or name_0..name_{n-1} when there are several.</summary>
    public static string[] Names(string name, int count) =>
        count == 1 ? [name] : Enumerable.Range(0, count).Select(i => $"{name}_{i}").ToArray();

    /// <summary>bench_writer's --deadline: "2006-01-02 15:04:05" in UTC (Go's time.Parse default); ISO 8601 also accepted.</summary>
    public static DateTime? ParseDeadline(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var upstream))
        {
            return upstream;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var iso))
        {
            return iso.UtcDateTime;
        }

        throw new FormatException($"invalid --deadline \"{text}\" (want \"2006-01-02 15:04:05\", UTC)");
    }

    /// <summary>Checked here so a typo is a usage error, not a broker error frame mid-run.</summary>
    public static void RequireValidNames(IEnumerable<string> topics, IEnumerable<string> channels)
    {
        foreach (var t in topics)
        {
            Require(NsqSharp.Common.Protocol.NsqNames.IsValidTopicName(t), $"invalid topic name \"{t}\" (want 1-64 of [.a-zA-Z0-9_-], optional #ephemeral)");
        }

        foreach (var c in channels)
        {
            Require(NsqSharp.Common.Protocol.NsqNames.IsValidChannelName(c), $"invalid channel name \"{c}\" (want 1-64 of [.a-zA-Z0-9_-], optional #ephemeral)");
        }
    }

    public static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new FormatException(message);
        }
    }
}
