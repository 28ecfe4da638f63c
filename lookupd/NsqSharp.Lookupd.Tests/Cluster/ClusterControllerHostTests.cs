using System.Net;
using System.Text.Json;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Lookupd.Tests.Cluster;

/// <summary>
/// nsqlookupd processes as the cluster's controller hosts: the election among several, a kill -9 taken over by the
/// other with a failover done, SIGTERM resigning, and a start while etcd is down.
/// </summary>
public sealed class ClusterControllerHostTests
{
    private const int T = 180_000;
    private const string Cluster = ClusterTestBed.ClusterName;

    [EtcdFact(Timeout = T)]
    public async Task OfTwoLookupdsOneIsController_AfterItsKill9TheOtherTakesOverAndFailsADeadLeaderOver()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var cluster = new SimulatedCluster(etcd.ClientUrl, Cluster);
        await cluster.AddNodesAsync(3);
        await using var a = await ClusterLookupd.StartAsync(etcd.ClientUrl, Cluster);
        await using var b = await ClusterLookupd.StartAsync(etcd.ClientUrl, Cluster);
        await ClusterTestBed.WaitForNodesAsync(a, 3);
        await ClusterTestBed.WaitForNodesAsync(b, 3);

        // One controller, the same for both, and only it says it is.
        string controller = "";
        await Wait.UntilAsync(async () => (controller = await cluster.ReadAsync(cluster.Keys.Controller) ?? "") != "", "a controller");
        Assert.Contains(controller, new[] { a.Id, b.Id });
        var (active, standby) = controller == a.Id ? (a, b) : (b, a);
        await active.WaitUntilControllerAsync();
        await Wait.UntilAsync(async () => (await standby.GetJsonAsync("/cluster")).GetProperty("controller").GetString() == controller,
            "the standby to see the controller");
        Assert.False((await standby.GetJsonAsync("/cluster")).GetProperty("is_controller").GetBoolean());

        // Either instance creates (every lookupd answers HTTP); the other sees it.
        Assert.Equal((HttpStatusCode.OK, ""), await standby.PostAsync("/topic/create?topic=orders&partitions=3&replicas=3"));
        await Wait.UntilAsync(async () => (await active.GetAsync("/lookup?topic=orders")).Status == HttpStatusCode.OK, "the topic on the controller");

        active.Process.Kill9();
        await standby.WaitUntilControllerAsync(TimeSpan.FromSeconds(60)); // after the dead one's election lease (5 s) expires
        Assert.Equal(standby.Id, await cluster.ReadAsync(cluster.Keys.Controller));

        // The nsqd leading partition 0 dies: the new controller moves it to the next ISR member, epoch + 1.
        var before = await cluster.ReadJsonAsync(cluster.Keys.Partition("orders", 0));
        var deadLeader = before.GetProperty("leader").GetString()!;
        await cluster.KillNodeAsync(deadLeader);
        JsonElement after = default;
        await Wait.UntilAsync(async () =>
        {
            after = await cluster.ReadJsonAsync(cluster.Keys.Partition("orders", 0));
            return after.GetProperty("leader").GetString() != deadLeader;
        }, "partition 0 to fail over", TimeSpan.FromSeconds(60));
        var replicas = before.GetProperty("replicas").EnumerateArray().Select(r => r.GetString()!).ToList();
        var expected = replicas.First(r => r != deadLeader); // ISR = replicas at create: the first live one in replica order
        Assert.Equal(expected, after.GetProperty("leader").GetString());
        Assert.Equal(before.GetProperty("leader_epoch").GetInt64() + 1, after.GetProperty("leader_epoch").GetInt64());
        Assert.DoesNotContain(deadLeader, after.GetProperty("isr").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(replicas, after.GetProperty("replicas").EnumerateArray().Select(r => r.GetString()!));

        // Discovery on the survivor follows: the dead node leads nothing and is no producer.
        await Wait.UntilAsync(async () =>
        {
            var lookup = await standby.GetJsonAsync("/lookup?topic=orders");
            return lookup.GetProperty("producers").EnumerateArray().All(p => p.GetProperty("node_id").GetString() != deadLeader);
        }, "the dead leader to leave /lookup");
    }

    [EtcdFact(Timeout = T)]
    public async Task SigtermResignsTheControllerRole()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var cluster = new SimulatedCluster(etcd.ClientUrl, Cluster);
        await using var lookupd = await ClusterLookupd.StartAsync(etcd.ClientUrl, Cluster);
        await lookupd.WaitUntilControllerAsync();
        Assert.Equal(lookupd.Id, await cluster.ReadAsync(cluster.Keys.Controller));

        Assert.True(lookupd.Process.Terminate(TimeSpan.FromSeconds(30)), "exits on SIGTERM");
        Assert.Equal(0, lookupd.Process.Process.ExitCode);
        // Its election lease (5 s) would still hold the key: it is gone because lookupd deleted it.
        Assert.Null(await cluster.ReadAsync(cluster.Keys.Controller));
        Assert.Contains("resigned the controller role", lookupd.Process.Output);
    }

    [EtcdFact(Timeout = T)]
    public async Task StartedWhileEtcdIsDown_ItServesAndRefusesClusterCalls_UntilEtcdIsUp()
    {
        var (clientPort, peerPort) = (FreePort.Next(), FreePort.Next());
        var url = $"http://127.0.0.1:{clientPort}";
        // Ready means listening and /ping answering: the start itself must not wait for etcd.
        await using var lookupd = await ClusterLookupd.StartAsync(url, Cluster);
        Assert.Equal((HttpStatusCode.OK, "OK"), await lookupd.GetAsync("/ping"));
        var unavailable = (HttpStatusCode.ServiceUnavailable, """{"message":"CLUSTER_UNAVAILABLE"}""");
        Assert.Equal(unavailable, await lookupd.PostAsync("/topic/create?topic=orders"));
        Assert.Equal(unavailable, await lookupd.PostAsync("/channel/create?topic=orders&channel=c"));
        Assert.Equal(unavailable, await lookupd.GetAsync("/cluster"));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_ARG_PARTITIONS"}"""), await lookupd.PostAsync("/topic/create?topic=orders&partitions=0"));
        Assert.Equal((HttpStatusCode.NotFound, """{"message":"TOPIC_NOT_FOUND"}"""), await lookupd.GetAsync("/lookup?topic=orders"));
        await Wait.UntilAsync(() => lookupd.Process.Output.Contains("etcd unreachable", StringComparison.Ordinal), "the unreachable etcd to be logged",
            TimeSpan.FromSeconds(30));

        await using var etcd = await EtcdProcess.StartOnPortsAsync(clientPort, peerPort);
        await using var cluster = new SimulatedCluster(url, Cluster);
        await cluster.AddNodesAsync(1);
        // gRPC's reconnect backoff decides how soon lookupd's next attempt comes: bounded generously.
        await Wait.UntilAsync(async () => (await lookupd.PostAsync("/topic/create?topic=orders")).Status == HttpStatusCode.OK,
            "the create to succeed once etcd is up", TimeSpan.FromSeconds(120));
        Assert.Equal("""{"partitions":1,"replicas":1,"min_isr":1}""", await cluster.ReadAsync(cluster.Keys.Topic("orders")));
        await lookupd.WaitUntilControllerAsync();
        Assert.False(lookupd.Process.Process.HasExited);
    }
}
