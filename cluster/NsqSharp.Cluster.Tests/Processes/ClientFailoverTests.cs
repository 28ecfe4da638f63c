using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NsqSharp.Client;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10: our client's consumer, discovering through a real nsqlookupd controller with the default one-minute poll
/// interval, follows a leader failover by itself: after the leader is SIGKILLed it queries lookupd often until the new
/// leader is there, and receives from it. The time from the new leader appearing in lookupd to the first message from
/// it is reported; the test fails only if the consumer waited for its regular poll.
/// </summary>
public sealed class ClientFailoverTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [EtcdFact(Timeout = 180_000)]
    public async Task ConsumerThroughLookupd_ReroutesToTheNewLeader_WithoutWaitingForItsPollInterval()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: false, lookupds: 1);
        await harness.WaitForAsync(v => v.Controller is not null);
        await harness.CreateTopicAsync("events", replicas: 3, minIsr: 2, "app");
        var lookupd = harness.Cluster.Lookupds[0];

        var config = new NsqConfig { MaxInFlight = 100 };
        Assert.Equal(TimeSpan.FromMinutes(1), config.LookupdPollInterval);
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var consumer = new Consumer("events", "app", config, new LineLogger(lines));
        var firstFrom = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        consumer.AddHandler((message, _) =>
        {
            firstFrom.TryAdd(message.NsqdAddress, Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        });
        await consumer.ConnectToNsqLookupdAsync(lookupd.HttpAddress);

        var log = new PublishLog();
        using var stop = new CancellationTokenSource();
        var publisher = Task.Run(() => ClusterHarness.PublishUntilAsync(harness.Cluster.Nodes[2], "events", "p", log, stop.Token));
        await ClusterHarness.WaitUntilAsync(() => firstFrom.ContainsKey(harness.Cluster.Nodes[0].TcpAddress));

        harness.Cluster.Nodes[0].Kill9();
        var (newLeader, listedAt) = await WaitForNewLeaderInLookupdAsync(lookupd, "events", harness.Cluster.Nodes[0].TcpPort);
        var node = harness.Cluster.Nodes.Single(n => n.TcpPort == newLeader);
        await ClusterHarness.WaitUntilAsync(() => firstFrom.ContainsKey(node.TcpAddress));
        var rerouted = Stopwatch.GetElapsedTime(listedAt, firstFrom[node.TcpAddress]);
        output.WriteLine($"first message from the new leader {rerouted.TotalMilliseconds:0} ms after lookupd listed it");
        foreach (var l in lines)
        {
            output.WriteLine(l);
        }
        Assert.True(rerouted < TimeSpan.FromSeconds(30), $"the consumer took {rerouted} (its regular poll is a minute)");

        await stop.CancelAsync();
        await publisher;
    }

    [EtcdFact(Timeout = 180_000)]
    public async Task LookupdProducer_PublishesOnTheLeaderDirectly_AndFollowsAFailover()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: false, lookupds: 1);
        await harness.WaitForAsync(v => v.Controller is not null);
        await harness.CreateTopicAsync("direct", replicas: 3, minIsr: 2, "drain");
        var lookupd = harness.Cluster.Lookupds[0];
        await using var producer = new LookupdProducer([lookupd.HttpAddress]);

        var acked = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            await producer.PublishAsync("direct", Encoding.UTF8.GetBytes($"a-{i}")).WaitAsync(ClusterHarness.Bound);
            acked.Add($"a-{i}");
        }

        // Straight to the leader: lookupd lists only it, and the followers forwarded nothing.
        Assert.Equal([harness.Cluster.Nodes[0].TcpAddress], producer.RouteOf("direct"));

        harness.Cluster.Nodes[0].Kill9();
        var killed = Stopwatch.GetTimestamp();
        for (var i = 0; i < 100; i++)
        {
            await producer.PublishAsync("direct", Encoding.UTF8.GetBytes($"b-{i}")).WaitAsync(ClusterHarness.Bound);
            acked.Add($"b-{i}");
            if (i == 0)
            {
                output.WriteLine($"first publish after the kill acknowledged after {Stopwatch.GetElapsedTime(killed).TotalMilliseconds:0} ms");
            }
        }

        var leader = harness.Cluster.Node(harness.Partition("direct").Leader!);
        Assert.Equal([leader.TcpAddress], producer.RouteOf("direct"));
        var received = await ClusterHarness.DrainAsync(leader, "direct", "drain", acked);
        Assert.All(acked, a => Assert.Contains(a, received));
    }

    /// <summary>Polls lookupd until its producers for the topic are one node other than the old leader.</summary>
    private static async Task<(int TcpPort, long ListedAt)> WaitForNewLeaderInLookupdAsync(NsqlookupdProcess lookupd, string topic, int oldPort)
    {
        using var bound = new CancellationTokenSource(ClusterHarness.Bound);
        while (true)
        {
            using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{lookupd.HttpBase}/lookup?topic={topic}", bound.Token));
            var ports = doc.RootElement.GetProperty("producers").EnumerateArray().Select(p => p.GetProperty("tcp_port").GetInt32()).ToList();
            if (ports.Count == 1 && ports[0] != oldPort)
            {
                return (ports[0], Stopwatch.GetTimestamp());
            }

            await Task.Delay(20, bound.Token);
        }
    }

}

internal sealed class LineLogger(System.Collections.Concurrent.ConcurrentQueue<string> lines) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {formatter(state, exception)}");
}
