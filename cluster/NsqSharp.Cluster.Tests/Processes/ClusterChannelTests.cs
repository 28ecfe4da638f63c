using System.Text.Json;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10: channel create, delete and pause are cluster-wide, against real processes. Done through any replica's
/// nsqd HTTP API (what nsqadmin and operators use), they reach etcd and every replica, so the leader after a failover
/// has the channel with the same pause flag.
/// </summary>
public sealed class ClusterChannelTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [EtcdFact(Timeout = 180_000)]
    public async Task ChannelCreatePauseAndDelete_OnOneReplica_ReachEveryReplica_AndSurviveAFailover()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("shared", replicas: 3, minIsr: 2);
        var nodes = harness.Cluster.Nodes;

        // Created on a follower: in etcd, and on every replica.
        await PostAsync(nodes[2], "/channel/create?topic=shared&channel=billing");
        await harness.WaitForAsync(v => v.Topics["shared"].Channels.ContainsKey("billing"));
        foreach (var node in nodes)
        {
            await ClusterHarness.WaitUntilAsync(async () => (await ChannelAsync(node, "shared", "billing")) is not null);
        }

        // Paused on the leader: paused everywhere.
        await PostAsync(nodes[0], "/channel/pause?topic=shared&channel=billing");
        await harness.WaitForAsync(v => v.Topics["shared"].Channels["billing"].Paused);
        foreach (var node in nodes)
        {
            await ClusterHarness.WaitUntilAsync(async () => (await ChannelAsync(node, "shared", "billing"))?.GetProperty("paused").GetBoolean() == true);
        }

        // The leader dies: its successor's copy is paused too; unpaused there, the flag reaches the survivors.
        nodes[0].Kill9();
        var moved = await harness.WaitForAsync(v => v.Topics["shared"].Partitions[0].State is { Leader: not null and not "n1" });
        var leader = harness.Cluster.Node(moved.Topics["shared"].Partitions[0].State.Leader!);
        Assert.True((await ChannelAsync(leader, "shared", "billing"))!.Value.GetProperty("paused").GetBoolean());
        await PostAsync(leader, "/channel/unpause?topic=shared&channel=billing");
        await harness.WaitForAsync(v => !v.Topics["shared"].Channels["billing"].Paused);
        foreach (var node in nodes.Skip(1))
        {
            await ClusterHarness.WaitUntilAsync(async () => (await ChannelAsync(node, "shared", "billing"))?.GetProperty("paused").GetBoolean() == false);
        }

        // Deleted on one replica: gone from etcd and from the others.
        await PostAsync(leader, "/channel/delete?topic=shared&channel=billing");
        await harness.WaitForAsync(v => !v.Topics["shared"].Channels.ContainsKey("billing"));
        foreach (var node in nodes.Skip(1))
        {
            await ClusterHarness.WaitUntilAsync(async () => (await ChannelAsync(node, "shared", "billing")) is null);
        }
    }

    [EtcdFact(Timeout = 180_000)]
    public async Task ATopicDeletedClusterWide_LeavesEveryReplica_AndCanBeCreatedAgain()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("doomed", replicas: 3, minIsr: 2, "drain");
        var leader = harness.Cluster.Nodes[0];
        await using (var producer = new NsqSharp.Client.Producer(leader.TcpAddress))
        {
            await producer.PublishAsync("doomed", "old"u8.ToArray()).AsTask().WaitAsync(ClusterHarness.Bound);
        }

        // What lookupd's POST /topic/delete does: the topic's whole prefix goes from etcd.
        await harness.Writer.DeleteTopicAsync("doomed");
        foreach (var node in harness.Cluster.Nodes)
        {
            await ClusterHarness.WaitUntilAsync(async () => !(await TopicNamesAsync(node)).Contains("doomed"));
        }

        // Created again it starts over (epoch 1, offset 0): the old log, with its data, is gone from every replica.
        await harness.CreateTopicAsync("doomed", replicas: 3, minIsr: 2, "drain");
        await using (var producer = new NsqSharp.Client.Producer(leader.TcpAddress))
        {
            await producer.PublishAsync("doomed", "new"u8.ToArray()).AsTask().WaitAsync(ClusterHarness.Bound);
        }

        var received = await ClusterHarness.DrainAsync(leader, "doomed", "drain", ["new"]);
        Assert.Equal(["new"], received);
    }

    private static async Task<List<string>> TopicNamesAsync(NsqdProcess node)
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{node.HttpBase}/stats?format=json"));
        var topics = doc.RootElement.GetProperty("topics");
        return topics.ValueKind != JsonValueKind.Array ? [] : [.. topics.EnumerateArray().Select(t => t.GetProperty("topic_name").GetString()!)];
    }

    private static async Task PostAsync(NsqdProcess node, string pathAndQuery)
    {
        using var response = await Http.PostAsync(node.HttpBase + pathAndQuery, null);
        Assert.True(response.IsSuccessStatusCode, $"{pathAndQuery} on {node.HttpAddress}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The channel's entry in the node's /stats, or null.</summary>
    private static async Task<JsonElement?> ChannelAsync(NsqdProcess node, string topic, string channel)
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{node.HttpBase}/stats?format=json&topic={topic}"));
        if (doc.RootElement.GetProperty("topics").ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (var t in doc.RootElement.GetProperty("topics").EnumerateArray())
        {
            if (t.GetProperty("topic_name").GetString() != topic || t.GetProperty("channels").ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var c in t.GetProperty("channels").EnumerateArray())
            {
                if (c.GetProperty("channel_name").GetString() == channel)
                {
                    return c.Clone();
                }
            }
        }

        return null;
    }
}
