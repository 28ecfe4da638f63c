using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Modes;
using NsqSharp.Bench.Report;

namespace NsqSharp.Bench.Compare;

/// <summary>The named scenarios compare runs, built from the same option classes as the standalone verbs.</summary>
internal static class ScenarioCatalog
{
    public static readonly string[] Names = ["writer", "reader", "pubsub", "fanout", "manytopics", "latency"];

    public static Task<BenchResult> RunAsync(string scenario, string address, int brokerPid, CompareCommandOptions o, string label)
    {
        var concurrency = o.Concurrency;
        return scenario switch
        {
            "writer" => ThroughputRunner.RunAsync(ThroughputPlan.From("writer", Fill(new WriterOptions { Topics = 1 }, "sub_bench"))),
            "reader" => ThroughputRunner.RunAsync(ThroughputPlan.From("reader", Fill(new ReaderOptions { Topics = 1, Channels = 1 }, "sub_bench"))),
            "pubsub" => ThroughputRunner.RunAsync(ThroughputPlan.From("pubsub", Fill(new PubSubOptions { Topics = 1, Channels = 1 }, "sub_bench_pubsub"))),
            "fanout" => ThroughputRunner.RunAsync(ThroughputPlan.From("fanout", Fill(new FanoutOptions { Topics = 1, Channels = o.Channels }, "sub_bench_fanout"))),
            "manytopics" => ThroughputRunner.RunAsync(ThroughputPlan.From("manytopics", Fill(new ManyTopicsOptions { Topics = o.Topics, Channels = 1 }, "sub_bench_many"))),
            "latency" => LatencyRunner.RunAsync(LatencyPlan.From(Common(new LatencyOptions
            {
                Rate = o.Rate,
                BatchSize = 1,
                Warmup = "1s",
                DrainTimeout = "10s",
                Rdy = 2500,
                Timer = "sleep",
                OutputBufferSize = -1,
            }, null))),
            _ => throw new FormatException($"unknown scenario \"{scenario}\" (known: {string.Join(", ", Names)})"),
        };

        T Fill<T>(T options, string topic)
            where T : ThroughputOptions
        {
            options.BatchSize = o.BatchSize;
            options.Pipeline = 1;
            options.Rdy = 2500;
            if (options is ReaderOptions reader)
            {
                reader.IdleStop = "2s";
            }

            return Common(options, topic);
        }

        T Common<T>(T options, string? topic)
            where T : CommonOptions
        {
            options.NsqdTcpAddress = address;
            options.Topic = topic;
            options.Channel = "ch";
            options.Size = o.Size;
            options.RunFor = o.RunFor;
            options.Concurrency = concurrency;
            options.BrokerPid = brokerPid;
            options.Label = label;
            options.Progress = o.Progress;
            return options;
        }
    }
}
