using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Modes;
using NsqSharp.Bench.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Bench.Tests.Cluster;

/// <summary>
/// --lookupd-http-address: finding a topic's leaders through nsqlookupd's GET /lookup (against fake lookupds on
/// 127.0.0.1), creating the topic when no lookupd knows it, upstream-style answers, several lookupds, and every
/// failure ending in a LookupdException within its bound.
/// </summary>
public class RouteResolverTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static Task<Routes> ResolveAsync(IEnumerable<string> lookupds, string topic, int partitions = 0, int replicas = 0, int minIsr = 0,
        TimeSpan? timeout = null) =>
        RouteResolver.ResolveAsync(LookupdSettings.From(lookupds, partitions, replicas, minIsr), [topic], timeout ?? Bound, CancellationToken.None);

    [Fact]
    public async Task Unknown_topic_is_created_with_the_settings_then_its_leaders_and_followers_are_used()
    {
        var created = false;
        using var lookupd = new FakeLookupd(request => request switch
        {
            _ when request.StartsWith("GET /lookup?topic=orders", StringComparison.Ordinal) && !created => FakeLookupd.Error(404, "TOPIC_NOT_FOUND"),
            _ when request.StartsWith("POST /topic/create?", StringComparison.Ordinal) => Create(),
            _ when request.StartsWith("GET /lookup?topic=orders", StringComparison.Ordinal) => (200,
                "{\"channels\":[],\"producers\":[" + FakeLookupd.Producer("127.0.0.1:4150", "n1") + "," + FakeLookupd.Producer("127.0.0.1:4250", "n2") +
                "],\"partitions\":[" + FakeLookupd.Partition(0, "n1", 1, "n1", "n2", "n3") + "," + FakeLookupd.Partition(1, "n2", 1, "n2", "n3", "n1") + "," +
                FakeLookupd.Partition(2, "n1", 3, "n1", "n3", "n2") + "]}"),
            "GET /cluster" => (200, "{\"cluster_name\":\"c\",\"nodes\":[" + FakeLookupd.Producer("127.0.0.1:4150", "n1") + "," +
                FakeLookupd.Producer("127.0.0.1:4250", "n2") + "," + FakeLookupd.Producer("127.0.0.1:4350", "n3") + "],\"topics\":[]}"),
            _ => FakeLookupd.Error(404, "NOT_FOUND"),
        });

        var routes = await ResolveAsync([lookupd.Address], "orders", partitions: 3, replicas: 3, minIsr: 2);

        Assert.Contains("POST /topic/create?topic=orders&partitions=3&replicas=3&min_isr=2", lookupd.Requests);
        Assert.Equal(1, lookupd.Count("POST /topic/create"));
        var route = routes.Of("orders");
        Assert.Equal("cluster", route.Source);
        Assert.Equal(["127.0.0.1:4150", "127.0.0.1:4250"], routes.Addresses("orders"));
        Assert.Equal([0, 2], route.PartitionsLedBy(route.Leaders[0]));
        Assert.Equal([1], route.PartitionsLedBy(route.Leaders[1]));
        Assert.Equal(3, route.Partitions!.Count);
        Assert.Equal(3, route.Partitions[2].LeaderEpoch);
        Assert.Equal(["n1", "n3", "n2"], route.Partitions[2].Replicas);
        Assert.Equal(["127.0.0.1:4150", "127.0.0.1:4250", "127.0.0.1:4350"], routes.NodeAddresses); // the follower n3 from GET /cluster
        Assert.Equal([lookupd.Address], routes.LookupdAddresses);
        var lines = routes.Describe().ToList();
        Assert.Contains(lines, l => l.Contains("3 partitions, leaders n1 127.0.0.1:4150 (partitions 0,2), n2 127.0.0.1:4250 (partition 1)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("partition 1: leader n2, epoch 1, replicas n2,n3,n1, isr n2,n3,n1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("followers n3 127.0.0.1:4350", StringComparison.Ordinal));

        (int, string) Create()
        {
            created = true;
            return (200, "");
        }
    }

    [Fact]
    public async Task Upstream_answer_without_partitions_uses_the_producers_and_creates_nothing()
    {
        using var lookupd = new FakeLookupd(request => request.StartsWith("GET /lookup?topic=t", StringComparison.Ordinal)
            ? (200, "{\"channels\":[\"ch\"],\"producers\":[" + FakeLookupd.Producer("10.0.0.1:4150") + "," + FakeLookupd.Producer("10.0.0.2:4150") + "]}")
            : FakeLookupd.Error(404, "NOT_FOUND"));

        var routes = await ResolveAsync([lookupd.Address], "t");

        var route = routes.Of("t");
        Assert.Equal("producers", route.Source);
        Assert.Null(route.Partitions);
        Assert.Equal(["10.0.0.1:4150", "10.0.0.2:4150"], routes.Addresses("t"));
        Assert.All(route.Leaders, l => Assert.Null(l.NodeId));
        Assert.Equal(0, lookupd.Count("POST"));
        Assert.Equal(0, lookupd.Count("GET /cluster"));
    }

    [Fact]
    public async Task Pre_1_0_wrapper_and_ipv6_producers_are_read()
    {
        using var lookupd = new FakeLookupd(request => request.StartsWith("GET /lookup", StringComparison.Ordinal)
            ? (200, "{\"status_code\":200,\"status_txt\":\"OK\",\"data\":{\"channels\":[],\"producers\":[{\"broadcast_address\":\"::1\",\"tcp_port\":4150}," +
                "{\"broadcast_address\":\"\",\"tcp_port\":1},{\"tcp_port\":2}]}}")
            : FakeLookupd.Error(404, "NOT_FOUND"));

        var routes = await ResolveAsync(["http://" + lookupd.Address + "/"], "t");

        Assert.Equal(["[::1]:4150"], routes.Addresses("t")); // incomplete producers skipped
    }

    [Fact]
    public async Task Upstream_lookupd_where_no_nsqd_has_the_topic_yet_falls_back_to_every_registered_nsqd()
    {
        var created = false;
        using var lookupd = new FakeLookupd(request => request switch
        {
            _ when request.StartsWith("GET /lookup", StringComparison.Ordinal) && !created => FakeLookupd.Error(404, "TOPIC_NOT_FOUND"),
            _ when request.StartsWith("POST /topic/create?topic=fresh", StringComparison.Ordinal) => Create(),
            _ when request.StartsWith("GET /lookup", StringComparison.Ordinal) => (200, "{\"channels\":[],\"producers\":[]}"),
            "GET /nodes" => (200, "{\"producers\":[" + FakeLookupd.Producer("127.0.0.1:4150") + "," + FakeLookupd.Producer("127.0.0.1:4151") + "]}"),
            _ => FakeLookupd.Error(404, "NOT_FOUND"),
        });

        var routes = await ResolveAsync([lookupd.Address], "fresh");

        var route = routes.Of("fresh");
        Assert.Equal("nodes", route.Source);
        Assert.Equal(["127.0.0.1:4150", "127.0.0.1:4151"], routes.Addresses("fresh"));
        Assert.Contains(route.Describe([lookupd.Address]), l => l.Contains("no nsqd has the topic yet", StringComparison.Ordinal));
        Assert.Equal(1, lookupd.Count("POST /topic/create?topic=fresh"));

        (int, string) Create()
        {
            created = true;
            return (200, "");
        }
    }

    [Fact]
    public async Task Producers_of_several_lookupds_are_merged_and_an_unreachable_one_is_skipped()
    {
        using var a = new FakeLookupd(request => (200, "{\"producers\":[" + FakeLookupd.Producer("127.0.0.1:1001") + "," + FakeLookupd.Producer("127.0.0.1:1002") + "]}"));
        using var b = new FakeLookupd(request => (200, "{\"producers\":[" + FakeLookupd.Producer("127.0.0.1:1002") + "," + FakeLookupd.Producer("127.0.0.1:1003") + "]}"));
        var down = $"127.0.0.1:{FreePort.Next()}"; // nothing listens

        var routes = await ResolveAsync([a.Address, down, b.Address], "t");

        Assert.Equal(["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"], routes.Addresses("t"));
        Assert.Equal([a.Address, down, b.Address], routes.LookupdAddresses);
    }

    [Fact]
    public async Task No_reachable_lookupd_fails_at_once_naming_it()
    {
        var down = $"127.0.0.1:{FreePort.Next()}";
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<LookupdException>(() => ResolveAsync([down], "t"));

        Assert.Contains("cannot reach lookupd " + down, e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Create_refused_is_final_and_reports_lookupds_message()
    {
        using var lookupd = new FakeLookupd(request => request.StartsWith("POST", StringComparison.Ordinal)
            ? (400, "{\"message\":\"INVALID_ARG_REPLICAS\",\"error\":\"replicas 5 > 3 live nodes\"}")
            : FakeLookupd.Error(404, "TOPIC_NOT_FOUND"));

        var e = await Assert.ThrowsAsync<LookupdException>(() => ResolveAsync([lookupd.Address], "t", replicas: 5));

        Assert.Contains("400 INVALID_ARG_REPLICAS (replicas 5 > 3 live nodes)", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, lookupd.Count("POST /topic/create?topic=t&replicas=5"));
    }

    [Fact]
    public async Task Cluster_unavailable_and_offline_partitions_are_waited_for_within_the_bound()
    {
        var lookups = 0;
        using var lookupd = new FakeLookupd(request =>
        {
            if (!request.StartsWith("GET /lookup", StringComparison.Ordinal))
            {
                return FakeLookupd.Error(404, "NOT_FOUND");
            }

            // 1: lookupd has not read etcd yet; 2: the partition is offline; 3: led.
            return ++lookups switch
            {
                1 => FakeLookupd.Error(503, "CLUSTER_UNAVAILABLE"),
                2 => (200, "{\"producers\":[],\"partitions\":[" + FakeLookupd.Partition(0, null, 1, "n1", "n2") + "]}"),
                _ => (200, "{\"producers\":[" + FakeLookupd.Producer("127.0.0.1:4150", "n1") + "],\"partitions\":[" + FakeLookupd.Partition(0, "n1", 2, "n1", "n2") + "]}"),
            };
        });

        var routes = await ResolveAsync([lookupd.Address], "t");

        Assert.Equal(["127.0.0.1:4150"], routes.Addresses("t"));
        Assert.Equal(3, lookupd.Count("GET /lookup"));
        Assert.Equal(0, lookupd.Count("POST"));
    }

    [Fact]
    public async Task A_partition_that_stays_offline_ends_in_an_error_at_the_bound()
    {
        using var lookupd = new FakeLookupd(request => request.StartsWith("GET /lookup", StringComparison.Ordinal)
            ? (200, "{\"producers\":[" + FakeLookupd.Producer("127.0.0.1:4150", "n1") + "],\"partitions\":[" +
                FakeLookupd.Partition(0, "n1", 1, "n1") + "," + FakeLookupd.Partition(1, null, 1, "n2") + "]}")
            : FakeLookupd.Error(404, "NOT_FOUND"));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<LookupdException>(() => ResolveAsync([lookupd.Address], "t", timeout: TimeSpan.FromSeconds(1)));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.7), TimeSpan.FromSeconds(6));
        Assert.Contains("no leader for every partition within 1s", e.Message, StringComparison.Ordinal);
        Assert.Contains("1: leader none", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:4161", "http://127.0.0.1:4161/")]
    [InlineData("http://lookupd.example:4161", "http://lookupd.example:4161/")]
    [InlineData("https://[::1]:4161/", "https://[::1]:4161/")]
    public void Lookupd_addresses_are_host_port_or_a_url(string given, string expected) =>
        Assert.Equal(expected, LookupdClient.ParseBase(given).ToString());

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("http://127.0.0.1")]
    [InlineData("ftp://127.0.0.1:21")]
    [InlineData("http://127.0.0.1:4161/lookup")]
    public void Bad_lookupd_addresses_are_usage_errors(string given) =>
        Assert.Throws<FormatException>(() => LookupdSettings.From([given], 0, 0, 0));

    [Fact]
    public void Repeated_and_comma_separated_lookupd_flags_become_one_list()
    {
        Type[] verbs = [typeof(WriterOptions), typeof(ReaderOptions), typeof(FailoverOptions)];
        var args = ArgumentNormalizer.Normalize(
            ["writer", "-lookupd-http-address", "127.0.0.1:1", "--runfor=1s", "--lookupd-http-address=127.0.0.1:2,127.0.0.1:3", "-lookupd-http-address=127.0.0.1:1"], verbs);

        Assert.Equal(["writer", "--lookupd-http-address=127.0.0.1:1,127.0.0.1:2,127.0.0.1:3,127.0.0.1:1", "--runfor=1s"], args);
        using var parser = new CommandLine.Parser(s => s.HelpWriter = null);
        var writer = Assert.IsType<WriterOptions>(Assert.IsType<CommandLine.Parsed<object>>(parser.ParseArguments(args, verbs)).Value);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], LookupdSettings.From(writer.LookupdHttpAddresses, 0, 0, 0).Addresses);
    }

    [Fact]
    public void Connections_cover_every_leader_and_keep_upstreams_assignment_against_one_nsqd()
    {
        var single = Routes.Standalone("127.0.0.1:4150", ["a", "b"]);
        Assert.Equal(["a", "b", "a", "b"], TargetAssignment.Publishers(["a", "b"], single, 4).Select(t => t.Topic));
        Assert.Equal(4, TargetAssignment.Consumers(["a", "b"], ["c1", "c2"], single, 2).Count); // max(concurrency, topics x channels)

        var node = (string id, string address) => new RouteNode(id, address);
        var leaders = new[] { node("n1", "127.0.0.1:1"), node("n2", "127.0.0.1:2"), node("n3", "127.0.0.1:3") };
        var cluster = new Routes(["127.0.0.1:4161"], [new TopicRoute("t", leaders, [], leaders, "cluster")]);
        var writers = TargetAssignment.Publishers(["t"], cluster, 2);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], writers.Select(w => w.Address)); // 2 asked, 3 leaders: one each
        var readers = TargetAssignment.Consumers(["t"], ["ch"], cluster, 4);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"], readers.Select(r => r.Address));
    }
}
