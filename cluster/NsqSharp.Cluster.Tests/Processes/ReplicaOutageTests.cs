using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NsqSharp.Client;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, acceptance 3 and 4, against real processes: a follower that was down while 100,000 messages were written
/// catches up and re-enters the ISR; with only one of three replicas alive and min_isr=2 every publish fails with
/// E_NOT_ENOUGH_REPLICAS (never a silent ack, never a hang), and service resumes by itself once a second replica is
/// back.
/// </summary>
public sealed class ReplicaOutageTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [EtcdFact(Timeout = 240_000)]
    public async Task FollowerDownWhile100kAreWritten_CatchesUp_AndReentersTheIsr()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("bulk", replicas: 3, minIsr: 2);
        await harness.WaitForAsync(v => v.Topics["bulk"].Partitions[0].State.Isr.Count == 3);
        var leader = harness.Cluster.Nodes[0];
        var follower = harness.Cluster.Nodes[2];

        follower.Kill9();
        await harness.WaitForAsync(v => !v.Topics["bulk"].Partitions[0].State.Isr.Contains("n3"));

        await using (var producer = new Producer(leader.TcpAddress, new NsqConfig()))
        {
            var batch = Enumerable.Range(0, 200).Select(i => new string('x', 180) + i).Select(Encoding.UTF8.GetBytes).ToList();
            for (var b = 0; b < 500; b++)
            {
                await producer.MultiPublishAsync("bulk", batch).AsTask().WaitAsync(ClusterHarness.Bound);
            }
        }

        Assert.Equal(100_000, await LogEndAsync(leader, "bulk"));
        var restarted = Stopwatch.GetTimestamp();
        await follower.RestartAsync();
        await harness.WaitForAsync(v => v.Topics["bulk"].Partitions[0].State.Isr.Contains("n3"));
        output.WriteLine($"n3 back in the ISR {Stopwatch.GetElapsedTime(restarted).TotalMilliseconds:0} ms after its restart");

        Assert.Equal(100_000, await LogEndAsync(follower, "bulk"));
        var metrics = await Http.GetStringAsync($"{leader.HttpBase}/metrics");
        Assert.Contains("nsqd_partition_in_sync_replicas{partition=\"0\",topic=\"bulk\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("nsqd_partition_leader{partition=\"0\",topic=\"bulk\"} 1", metrics, StringComparison.Ordinal);
    }

    [EtcdFact(Timeout = 240_000)]
    public async Task OneOfThreeAlive_PublishesFailWithNotEnoughReplicas_AndResumeWhenASecondReturns()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("strict", replicas: 3, minIsr: 2, "drain");
        await harness.WaitForAsync(v => v.Topics["strict"].Partitions[0].State.Isr.Count == 3);
        var leader = harness.Cluster.Nodes[0];
        await using var producer = new Producer(leader.TcpAddress, new NsqConfig());
        await producer.PublishAsync("strict", "before"u8.ToArray());

        harness.Cluster.Nodes[1].Kill9();
        harness.Cluster.Nodes[2].Kill9();

        // Every publish is answered with the documented error within the ack bound (5 s) and the connection stays.
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 10; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var e = await Assert.ThrowsAsync<NsqServerException>(() => producer.PublishAsync("strict", Encoding.UTF8.GetBytes($"refused-{i}")).AsTask().WaitAsync(ClusterHarness.Bound));
            Assert.Equal("E_NOT_ENOUGH_REPLICAS", e.Code);
            slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
        }

        var http = await Http.PostAsync($"{leader.HttpBase}/pub?topic=strict", new StringContent("refused-http"));
        Assert.Equal(503, (int)http.StatusCode);
        using (var doc = JsonDocument.Parse(await http.Content.ReadAsStringAsync()))
        {
            Assert.Equal("NOT_ENOUGH_REPLICAS", doc.RootElement.GetProperty("message").GetString());
        }

        output.WriteLine($"slowest refusal: {slowest.TotalMilliseconds:0} ms");

        // A second replica comes back: publishes are acknowledged again without anyone doing anything.
        var restarted = Stopwatch.GetTimestamp();
        await harness.Cluster.Nodes[1].RestartAsync();
        using var bound = new CancellationTokenSource(ClusterHarness.Bound);
        while (true)
        {
            try
            {
                await producer.PublishAsync("strict", "after"u8.ToArray(), bound.Token);
                break;
            }
            catch (NsqServerException e) when (e.Code == "E_NOT_ENOUGH_REPLICAS")
            {
                await Task.Delay(100, bound.Token);
            }
        }

        output.WriteLine($"acknowledged again {Stopwatch.GetElapsedTime(restarted).TotalMilliseconds:0} ms after the second replica's restart");
        Assert.Contains("n2", harness.Partition("strict").Isr);
        var received = await ClusterHarness.DrainAsync(leader, "strict", "drain", ["before", "after"]);
        Assert.Contains("before", received);
        Assert.Contains("after", received);
    }

    private static async Task<long> LogEndAsync(NsqdProcess node, string topic)
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{node.HttpBase}/stats?format=json&topic={topic}"));
        var t = doc.RootElement.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic_name").GetString() == topic);
        return t.GetProperty("partitions")[0].GetProperty("log_end").GetInt64();
    }
}
