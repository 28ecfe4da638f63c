using System.Net;
using System.Text.Json;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Lookupd.Tests.Cluster;

/// <summary>
/// The cluster HTTP API of the real nsqlookupd executable against a real etcd, nsqd nodes simulated by their leased
/// registrations: what /topic/create and the channel and delete actions write to etcd, and what discovery answers.
/// </summary>
public sealed class ClusterTopicApiTests
{
    private const int T = 120_000;

    private static (HttpStatusCode, string) Error(HttpStatusCode status, string message) => (status, $$"""{"message":"{{message}}"}""");

    private static string[] Names(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name)];

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    [EtcdFact(Timeout = T)]
    public async Task CreateWithDefaults_WritesOnePartitionOnThreeReplicas_AndLookupAnswersItsLeaderWithNodeId()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 3);
        var keys = bed.Cluster.Keys;

        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=orders"));

        Assert.Equal("""{"partitions":1,"replicas":3,"min_isr":2}""", await bed.Cluster.ReadAsync(keys.Topic("orders")));
        var p0 = await bed.Cluster.ReadJsonAsync(keys.Partition("orders", 0));
        var leader = p0.GetProperty("leader").GetString()!;
        Assert.Equal(1, p0.GetProperty("leader_epoch").GetInt64());
        Assert.Equal(["n1", "n2", "n3"], Strings(p0.GetProperty("replicas")).Order());
        Assert.Equal(leader, Strings(p0.GetProperty("replicas"))[0]);
        Assert.Equal(Strings(p0.GetProperty("replicas")), Strings(p0.GetProperty("isr")));

        var lookup = await bed.Lookupd.GetJsonAsync("/lookup?topic=orders");
        Assert.Equal(["channels", "producers", "partitions"], Names(lookup));
        Assert.Empty(lookup.GetProperty("channels").EnumerateArray());
        var producer = Assert.Single(lookup.GetProperty("producers").EnumerateArray());
        Assert.Equal(
            ["remote_address", "hostname", "broadcast_address", "tcp_port", "http_port", "version", "topology_zone", "topology_region", "node_id"],
            Names(producer));
        var node = SimulatedCluster.Node(leader, 14140 + (int.Parse(leader[1..]) * 10));
        Assert.Equal(leader, producer.GetProperty("node_id").GetString());
        Assert.Equal("127.0.0.1", producer.GetProperty("broadcast_address").GetString());
        Assert.Equal(node.TcpPort, producer.GetProperty("tcp_port").GetInt32());
        Assert.Equal(node.HttpPort, producer.GetProperty("http_port").GetInt32());
        Assert.Equal($"127.0.0.1:{node.TcpPort}", producer.GetProperty("remote_address").GetString()); // not connected over TCP
        Assert.Equal("127.0.0.1", producer.GetProperty("hostname").GetString());

        var partition = Assert.Single(lookup.GetProperty("partitions").EnumerateArray());
        Assert.Equal(["partition", "leader", "leader_epoch", "replicas", "isr"], Names(partition));
        Assert.Equal(0, partition.GetProperty("partition").GetInt32());
        Assert.Equal(leader, partition.GetProperty("leader").GetString());
        Assert.Equal(1, partition.GetProperty("leader_epoch").GetInt64());
        Assert.Equal(Strings(p0.GetProperty("replicas")), Strings(partition.GetProperty("replicas")));
        Assert.Equal(Strings(p0.GetProperty("isr")), Strings(partition.GetProperty("isr")));
    }

    [EtcdFact(Timeout = T)]
    public async Task CreateWithExplicitSettings_PlacesEveryPartition_AndEachLeaderIsOneProducer()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 3);
        var keys = bed.Cluster.Keys;
        // n2's nsqd is also connected over TCP: its producer entry takes remote address and hostname from there.
        await using var n2 = await V1Client.ConnectAsync(bed.Lookupd.Process.TcpPort);
        await n2.SendMagicAsync();
        Assert.StartsWith("{", await n2.IdentifyAsync(V1Client.IdentifyJson("127.0.0.1", 14160, 14161)));

        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=events&partitions=4&replicas=2&min_isr=1&unknown=ignored"));

        Assert.Equal("""{"partitions":4,"replicas":2,"min_isr":1}""", await bed.Cluster.ReadAsync(keys.Topic("events")));
        var leaders = new SortedSet<string>(StringComparer.Ordinal);
        for (int p = 0; p < 4; p++)
        {
            var state = await bed.Cluster.ReadJsonAsync(keys.Partition("events", p));
            var replicas = Strings(state.GetProperty("replicas"));
            Assert.Equal(2, replicas.Distinct().Count());
            Assert.Equal(replicas[0], state.GetProperty("leader").GetString());
            leaders.Add(replicas[0]);
        }

        Assert.Equal(5, (await bed.Cluster.TopicKeysAsync("events")).Count); // config + 4 partitions, nothing else
        Assert.Equal(["n1", "n2", "n3"], leaders); // 4 leaderships over 3 nodes: each leads one or two

        var lookup = await bed.Lookupd.GetJsonAsync("/lookup?topic=events");
        var producers = lookup.GetProperty("producers").EnumerateArray().ToList();
        Assert.Equal(leaders, producers.Select(p => p.GetProperty("node_id").GetString()!));
        var viaTcp = producers.Single(p => p.GetProperty("node_id").GetString() == "n2");
        Assert.Equal("node-14160", viaTcp.GetProperty("hostname").GetString());
        Assert.StartsWith("127.0.0.1:", viaTcp.GetProperty("remote_address").GetString());
        Assert.NotEqual("127.0.0.1:14160", viaTcp.GetProperty("remote_address").GetString());
        Assert.Equal(4, lookup.GetProperty("partitions").GetArrayLength());

        // /nodes stays upstream's (TCP peers only) and names the peer's cluster node.
        var nodes = await bed.Lookupd.GetJsonAsync("/nodes");
        var peer = Assert.Single(nodes.GetProperty("producers").EnumerateArray());
        Assert.Equal("n2", peer.GetProperty("node_id").GetString());
        Assert.Equal(14160, peer.GetProperty("tcp_port").GetInt32());
    }

    [EtcdFact(Timeout = T)]
    public async Task BadCreateRequestsGetTheirExactError_AndWriteNothing()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 3);
        var cases = new (string Query, HttpStatusCode Status, string Message)[]
        {
            ("", HttpStatusCode.BadRequest, "MISSING_ARG_TOPIC"),
            ("?topic=a%2Fb", HttpStatusCode.BadRequest, "INVALID_ARG_TOPIC"),
            ("?topic=" + new string('x', 65), HttpStatusCode.BadRequest, "INVALID_ARG_TOPIC"),
            ("?topic=%zz", HttpStatusCode.BadRequest, "INVALID_REQUEST"),
            ("?topic=t&partitions=x", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&partitions=", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&partitions=-1", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&partitions=0", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&partitions=1025", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&partitions=99999999999", HttpStatusCode.BadRequest, "INVALID_ARG_PARTITIONS"),
            ("?topic=t&replicas=two", HttpStatusCode.BadRequest, "INVALID_ARG_REPLICAS"),
            ("?topic=t&replicas=0", HttpStatusCode.BadRequest, "INVALID_ARG_REPLICAS"),
            ("?topic=t&replicas=5", HttpStatusCode.BadRequest, "INVALID_ARG_REPLICAS replicas 5 > 3 live nodes"),
            ("?topic=t&min_isr=1.5", HttpStatusCode.BadRequest, "INVALID_ARG_MIN_ISR"),
            ("?topic=t&min_isr=0", HttpStatusCode.BadRequest, "INVALID_ARG_MIN_ISR"),
            ("?topic=t&replicas=2&min_isr=3", HttpStatusCode.BadRequest, "INVALID_ARG_MIN_ISR min_isr 3 > replicas 2"),
            ("?topic=t&min_isr=4", HttpStatusCode.BadRequest, "INVALID_ARG_MIN_ISR min_isr 4 > replicas 3"),
        };
        foreach (var (query, status, message) in cases)
        {
            Assert.Equal(Error(status, message), await bed.Lookupd.PostAsync("/topic/create" + query));
        }

        Assert.Empty(await bed.Cluster.AllTopicKeysAsync());
        Assert.Equal((HttpStatusCode.OK, "OK"), await bed.Lookupd.GetAsync("/ping"));
        Assert.Equal(Error(HttpStatusCode.NotFound, "TOPIC_NOT_FOUND"), await bed.Lookupd.GetAsync("/lookup?topic=t"));
        Assert.False(bed.Lookupd.Process.Process.HasExited);
    }

    [EtcdFact(Timeout = T)]
    public async Task CreatingAnExistingTopicIsIdempotent_UnlessOtherSettingsAreAsked()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 3);
        var configKey = bed.Cluster.Keys.Topic("orders");
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=orders&partitions=2"));
        var written = (await bed.Cluster.Store.GetAsync(configKey)).Single!;

        foreach (var same in new[] { "", "&partitions=2", "&partitions=2&replicas=3&min_isr=2", "&min_isr=2" })
        {
            Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=orders" + same));
        }

        foreach (var other in new[] { "&partitions=3", "&replicas=2", "&min_isr=1" })
        {
            Assert.Equal((HttpStatusCode.BadRequest, """{"message":"TOPIC_EXISTS","error":"partitions 2, replicas 3, min_isr 2"}"""),
                await bed.Lookupd.PostAsync("/topic/create?topic=orders" + other));
        }

        var now = (await bed.Cluster.Store.GetAsync(configKey)).Single!;
        Assert.Equal(written.ModRevision, now.ModRevision);
        Assert.Equal(3, (await bed.Cluster.TopicKeysAsync("orders")).Count);
    }

    [EtcdFact(Timeout = T)]
    public async Task ChannelCreateAndDelete_AndTopicDelete_AreWrittenToEtcd()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 3);
        var keys = bed.Cluster.Keys;
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=orders2"));

        // The topic does not exist yet: the channel create makes it, with the defaults.
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/channel/create?topic=orders&channel=billing"));
        Assert.Equal("""{"partitions":1,"replicas":3,"min_isr":2}""", await bed.Cluster.ReadAsync(keys.Topic("orders")));
        Assert.Equal("""{"paused":false}""", await bed.Cluster.ReadAsync(keys.Channel("orders", "billing")));
        Assert.Equal(["billing"], Strings((await bed.Lookupd.GetJsonAsync("/lookup?topic=orders")).GetProperty("channels")));
        Assert.Equal("""{"channels":["billing"]}""", (await bed.Lookupd.GetAsync("/channels?topic=orders")).Body);
        Assert.Equal("""{"topics":["orders","orders2"]}""", (await bed.Lookupd.GetAsync("/topics")).Body);

        // A channel written by someone else (an nsqd) is listed too; creating it again keeps its pause flag.
        await bed.Cluster.Writer.PutChannelAsync("orders", "audit", paused: true);
        await Wait.UntilAsync(async () => (await bed.Lookupd.GetAsync("/channels?topic=orders")).Body == """{"channels":["audit","billing"]}""",
            "the channel written to etcd to be listed");
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/channel/create?topic=orders&channel=audit"));
        Assert.Equal("""{"paused":true}""", await bed.Cluster.ReadAsync(keys.Channel("orders", "audit")));

        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/channel/delete?topic=orders&channel=billing"));
        Assert.Null(await bed.Cluster.ReadAsync(keys.Channel("orders", "billing")));
        Assert.Equal(Error(HttpStatusCode.NotFound, "CHANNEL_NOT_FOUND"), await bed.Lookupd.PostAsync("/channel/delete?topic=orders&channel=billing"));
        Assert.Equal(Error(HttpStatusCode.BadRequest, "MISSING_ARG_CHANNEL"), await bed.Lookupd.PostAsync("/channel/create?topic=orders"));

        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/delete?topic=orders"));
        Assert.Empty(await bed.Cluster.TopicKeysAsync("orders"));
        Assert.Equal(2, (await bed.Cluster.TopicKeysAsync("orders2")).Count); // a prefix of its name, untouched
        Assert.Equal(Error(HttpStatusCode.NotFound, "TOPIC_NOT_FOUND"), await bed.Lookupd.GetAsync("/lookup?topic=orders"));
        Assert.Equal("""{"topics":["orders2"]}""", (await bed.Lookupd.GetAsync("/topics")).Body);
    }

    [EtcdFact(Timeout = T)]
    public async Task WithNoLiveNodeCreatesAnswer503_AndRegistryTopicsAnswerAsStandalone()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 0);
        Assert.Equal(Error(HttpStatusCode.ServiceUnavailable, "NO_LIVE_NODES"), await bed.Lookupd.PostAsync("/topic/create?topic=t"));
        Assert.Equal(Error(HttpStatusCode.ServiceUnavailable, "NO_LIVE_NODES"), await bed.Lookupd.PostAsync("/channel/create?topic=t&channel=c"));
        Assert.Empty(await bed.Cluster.AllTopicKeysAsync());

        // An nsqd registering over TCP (not a cluster node) is discovered as upstream's lookupd would.
        await using var peer = await V1Client.ConnectAsync(bed.Lookupd.Process.TcpPort);
        await peer.SendMagicAsync();
        await peer.IdentifyAsync(V1Client.IdentifyJson("127.0.0.1", 4150, 4151));
        Assert.Equal("OK", await peer.CommandAsync("REGISTER local ch"));
        var lookup = await bed.Lookupd.GetJsonAsync("/lookup?topic=local");
        Assert.Equal(["channels", "producers"], Names(lookup));
        Assert.Equal(["ch"], Strings(lookup.GetProperty("channels")));
        var producer = Assert.Single(lookup.GetProperty("producers").EnumerateArray());
        Assert.False(producer.TryGetProperty("node_id", out _));

        // Ephemeral topics stay in the registry: no etcd, no nodes needed.
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=tmp%23ephemeral"));
        Assert.Empty(await bed.Cluster.AllTopicKeysAsync());
    }

    [EtcdFact(Timeout = T)]
    public async Task ClusterAndInfoDescribeTheCluster()
    {
        await using var bed = await ClusterTestBed.StartAsync(nodes: 2);
        await bed.Lookupd.WaitUntilControllerAsync();
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/topic/create?topic=orders&partitions=2"));
        Assert.Equal((HttpStatusCode.OK, ""), await bed.Lookupd.PostAsync("/channel/create?topic=orders&channel=billing"));

        Assert.Equal("""{"version":"1.3.0","cluster_name":"test"}""", (await bed.Lookupd.GetAsync("/info")).Body);
        var cluster = await bed.Lookupd.GetJsonAsync("/cluster");
        Assert.Equal(["cluster_name", "id", "controller", "is_controller", "revision", "nodes", "topics"], Names(cluster));
        Assert.Equal("test", cluster.GetProperty("cluster_name").GetString());
        Assert.Equal(bed.Lookupd.Id, cluster.GetProperty("id").GetString());
        Assert.Equal(bed.Lookupd.Id, cluster.GetProperty("controller").GetString());
        Assert.True(cluster.GetProperty("is_controller").GetBoolean());
        Assert.True(cluster.GetProperty("revision").GetInt64() > 0);
        var nodes = cluster.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(["n1", "n2"], nodes.Select(n => n.GetProperty("node_id").GetString()!));
        Assert.Equal(["node_id", "broadcast_address", "tcp_port", "http_port", "version"], Names(nodes[0]));
        var topic = Assert.Single(cluster.GetProperty("topics").EnumerateArray());
        Assert.Equal(["topic", "config", "channels", "partitions"], Names(topic));
        Assert.Equal("""{"partitions":2,"replicas":2,"min_isr":1}""", topic.GetProperty("config").GetRawText());
        Assert.Equal(["billing"], Strings(topic.GetProperty("channels")));
        var partitions = topic.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal([0, 1], partitions.Select(p => p.GetProperty("partition").GetInt32()));
        Assert.Equal(["n1", "n2"], partitions.Select(p => p.GetProperty("leader").GetString()!).Order());
    }
}
