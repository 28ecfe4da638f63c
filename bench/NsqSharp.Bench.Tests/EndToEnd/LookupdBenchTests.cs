using System.Text.Json;
using NsqSharp.Bench.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Bench.Tests.EndToEnd;

/// <summary>
/// nsq_bench's cluster mode as a process. Against a fake upstream-style lookupd that names a real nsqd: the load goes
/// where lookupd says, and the JSON and the printed lines say so. Against a real cluster (etcd, nsqlookupd, 3 nsqd):
/// a 3-partition RF=3 topic is created through lookupd, the writer spreads over the 3 leaders, the reader drains exactly
/// what was published from all of them, and the failover mode times a SIGKILL of a leader.
/// </summary>
[Collection(ProcessCollection.Name)]
public class LookupdBenchTests(NsqdFixture fixture) : IClassFixture<NsqdFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Writer_and_reader_go_to_the_producers_an_upstream_lookupd_names()
    {
        var topic = "bench_lk_" + Guid.NewGuid().ToString("N")[..12];
        var nsqd = fixture.TcpAddress;
        using var lookupd = new FakeLookupd(request => request.StartsWith($"GET /lookup?topic={topic}", StringComparison.Ordinal)
            ? (200, "{\"channels\":[],\"producers\":[" + FakeLookupd.Producer(nsqd) + "]}")
            : FakeLookupd.Error(404, "NOT_FOUND"));
        var unused = $"127.0.0.1:{FreePort.Next()}"; // --nsqd-tcp-address is ignored with lookupd

        var writer = await BenchRun.RunAsync(RunTimeout, "writer", $"--lookupd-http-address={lookupd.Address}", $"--nsqd-tcp-address={unused}",
            $"--topic={topic}", "--runfor=1s", "--batch-size=50", "--progress=off", "--label=lk writer");
        Json.NoError(writer);
        Json.CommonFields(writer, "writer", 200);
        var w = writer.Json;
        var published = Json.Integer(writer, w, "published");
        Assert.True(published > 0 && published % 50 == 0, writer.Describe());
        AssertRoutes(writer, lookupd.Address, nsqd, "producers");
        Assert.Equal(fixture.Nsqd.Process.Pid, Json.Integer(writer, w, "broker_pid"));
        Assert.Contains(writer.StdoutLines, l => l == $"[lk writer] topic {topic} via lookupd {lookupd.Address}: no partitions in the answer (upstream-style lookupd), producers {nsqd}");

        var reader = await BenchRun.RunAsync(RunTimeout, "reader", $"--lookupd-http-address={lookupd.Address}", $"--topic={topic}",
            "--runfor=30s", "--idle-stop=500ms", "--progress=off");
        Json.NoError(reader);
        Assert.Equal(published, Json.Integer(reader, reader.Json, "consumed"));
        AssertRoutes(reader, lookupd.Address, nsqd, "producers");
        Assert.Equal(0, lookupd.Count("POST")); // it knew the topic
    }

    [Fact]
    public async Task Unreachable_lookupd_ends_with_a_json_line_carrying_the_error()
    {
        var down = $"127.0.0.1:{FreePort.Next()}";
        foreach (var mode in new[] { "writer", "latency", "failover" })
        {
            string[] args = mode switch
            {
                "failover" => [mode, $"--lookupd-http-address={down}", "--kills=1"],
                "latency" => [mode, $"--lookupd-http-address={down}", "--runfor=1s", "--warmup=0", "--progress=off"],
                _ => [mode, $"--lookupd-http-address={down}", "--runfor=1s", "--progress=off"],
            };
            var run = await BenchRun.RunAsync(RunTimeout, args);
            Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}\n{run.Describe()}");
            Assert.Contains("cannot reach lookupd " + down, Json.String(run, run.Json, "error"), StringComparison.Ordinal);
            Assert.Equal(mode, Json.String(run, run.Json, "mode"));
        }
    }

    [EtcdFact(Timeout = 240_000)]
    public async Task Against_a_real_cluster_the_load_spreads_over_every_leader_and_a_leader_kill_is_timed()
    {
        await using var cluster = await LocalCluster.StartAsync(3, lookupds: 1, nsqdArgs: ["--cluster-lease-ttl=1s"]);
        var lookupd = cluster.Lookupds[0];
        await WaitForNodesAsync(lookupd.HttpBase, 3);
        var nodes = cluster.Nodes.Select(n => n.TcpAddress).Order(StringComparer.Ordinal).ToList();
        var topic = "bench_cl_" + Guid.NewGuid().ToString("N")[..12];
        string[] cl = [$"--lookupd-http-address={lookupd.HttpAddress}", "--partitions=3", "--replicas=3", "--min-isr=2", $"--topic={topic}", "--progress=off"];

        var writer = await BenchRun.RunAsync(RunTimeout, ["writer", .. cl, "--runfor=1s", "--batch-size=50", "--concurrency=2"]);
        Json.NoError(writer);
        var w = writer.Json;
        Assert.Equal(3, Json.Integer(writer, w, "writers")); // 2 asked for, 3 leaders: one each
        var published = Json.Integer(writer, w, "published");
        Assert.True(published > 0 && published % 50 == 0, writer.Describe());
        Assert.Equal(nodes, Strings(w, "nsqd_tcp_addresses").Order(StringComparer.Ordinal));
        var leaders = w.GetProperty("leaders").EnumerateArray().ToList();
        Assert.Equal(3, leaders.Count);
        Assert.Equal([0, 1, 2], leaders.SelectMany(l => l.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32())).Order());
        Assert.All(leaders, l => Assert.Equal("cluster", l.GetProperty("source").GetString()));
        Assert.Equal(cluster.Nodes.Select(n => n.Process.Pid).Order(), w.GetProperty("broker_pids").EnumerateArray().Select(p => p.GetInt32()).Order());
        Assert.Contains(writer.StdoutLines, l => l.Contains($"topic {topic} via lookupd {lookupd.HttpAddress}: 3 partitions, leaders n", StringComparison.Ordinal));
        Assert.Equal(3, writer.StdoutLines.Count(l => l.Contains("  partition ", StringComparison.Ordinal) && l.Contains("replicas ", StringComparison.Ordinal)));

        var reader = await BenchRun.RunAsync(RunTimeout, ["reader", .. cl, "--runfor=30s", "--idle-stop=1s", "--concurrency=1"]);
        Json.NoError(reader);
        Assert.Equal(3, Json.Integer(reader, reader.Json, "readers")); // one per leader, or a partition would go unread
        Assert.True(Json.Integer(reader, reader.Json, "consumed") == published, $"published {published}\n{reader.Describe()}");

        var failover = await BenchRun.RunAsync(TimeSpan.FromSeconds(120), "failover", $"--lookupd-http-address={lookupd.HttpAddress}", "--kills=1",
            "--rate=500", "--warmup=500ms", "--failover-timeout=30s", "--label=fo");
        Json.NoError(failover);
        var f = failover.Json;
        Assert.Equal("failover", Json.String(failover, f, "mode"));
        Assert.Equal(1, Json.Integer(failover, f, "kills"));
        var ms = Json.Number(failover, f, "failover_ms_median");
        Assert.InRange(ms, 1, 30_000);
        Assert.Equal(ms, Json.Number(failover, f, "failover_ms_min"));
        Assert.Equal(3, Json.Integer(failover, f, "failover_connections")); // one per replica
        var kill = f.GetProperty("failovers")[0];
        var victim = kill.GetProperty("node_id").GetString()!;
        Assert.NotEqual(victim, kill.GetProperty("leader_after").GetString());
        Assert.True(kill.GetProperty("epoch_after").GetInt64() > kill.GetProperty("epoch_before").GetInt64(), failover.Describe());
        Assert.True(cluster.Node(victim).Process.HasExited, $"{victim} still runs\n{failover.Describe()}");
        Assert.Equal(JsonValueKind.Null, kill.GetProperty("recover_ms").ValueKind); // no --restart-cmd
        Assert.True(Json.Integer(failover, f, "published") > 0, failover.Describe());
        Assert.Contains(failover.StdoutLines, l => l.StartsWith($"[fo] kill 1: leader {victim} ", StringComparison.Ordinal));
    }

    private static void AssertRoutes(BenchRun run, string lookupd, string nsqd, string source)
    {
        var json = run.Json;
        Assert.Equal([lookupd], Strings(json, "lookupd_http_addresses"));
        Assert.Equal([nsqd], Strings(json, "nsqd_tcp_addresses"));
        Assert.Equal(nsqd, Json.String(run, json, "target"));
        var leader = Assert.Single(json.GetProperty("leaders").EnumerateArray());
        Assert.Equal(nsqd, leader.GetProperty("address").GetString());
        Assert.Equal(source, leader.GetProperty("source").GetString());
    }

    private static List<string> Strings(JsonElement json, string name) => [.. json.GetProperty(name).EnumerateArray().Select(e => e.GetString()!)];

    private static async Task WaitForNodesAsync(string lookupdBase, int count)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                var body = await http.GetStringAsync(lookupdBase + "/cluster", bound.Token);
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.GetProperty("nodes").GetArrayLength() >= count)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // 503 until lookupd has read etcd
            }

            await Task.Delay(100, bound.Token);
        }
    }
}
