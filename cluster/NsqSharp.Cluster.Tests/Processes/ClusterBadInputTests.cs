using System.Net.Sockets;
using System.Text;
using NsqSharp.Client;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, acceptance 8 (nsqd's side), against real processes: malformed cluster flags exit with a clear error; a
/// fetch from a node that is not a replica, garbage after the replica magic, and the replica magic on a standalone
/// node are refused without harm; an etcd that is down at start leaves nsqd serving, refusing what needs the cluster
/// with E_CLUSTER_UNAVAILABLE, and joining once etcd is up.
/// </summary>
public sealed class ClusterBadInputTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory(Timeout = 60_000)]
    [InlineData("--etcd-endpoints=127.0.0.1:2379", "invalid etcd endpoint '127.0.0.1:2379' (want http://host:port)")]
    [InlineData("--etcd-endpoints=http://127.0.0.1", "invalid etcd endpoint 'http://127.0.0.1' (want http://host:port)")]
    [InlineData("--etcd-endpoints=http://127.0.0.1:2379 --cluster-name=a/b", "invalid cluster name 'a/b'")]
    [InlineData("--etcd-endpoints=http://127.0.0.1:2379 --node-id=has space", "invalid --node-id 'has space'")]
    [InlineData("--etcd-endpoints=http://127.0.0.1:2379 --cluster-lease-ttl=500ms", "--cluster-lease-ttl must be at least 1s")]
    [InlineData("--etcd-endpoints=http://127.0.0.1:2379 --replica-lag-time=soon", "replica-lag-time")]
    [InlineData("--node-id=n1", "invalid value \"n1\" for flag -node-id")]
    public async Task MalformedClusterFlags_ExitWithAClearError(string args, string expected)
    {
        using var data = new TempDirectory("nsqsharp-badflags");
        var argv = SplitArgs(args).Append($"--data-path={data.Path}").Append("--tcp-address=127.0.0.1:0").Append("--http-address=127.0.0.1:0")
            .Append("--https-address=127.0.0.1:0");
        using var run = await ManagedProcess.RunAsync(RepoPaths.Executable("nsqd"), argv, Bound);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(expected, run.Output, StringComparison.Ordinal);
    }

    [EtcdFact(Timeout = 120_000)]
    public async Task FetchesFromStrangers_AndGarbage_AreRefused_AndTheLeaderGoesOn()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: false);
        await harness.CreateTopicAsync("guarded", replicas: 3, minIsr: 2);
        await harness.WaitForAsync(v => v.Topics["guarded"].Partitions[0].State.Isr.Count == 3);
        var leader = harness.Cluster.Nodes[0];

        // A node that is not a replica asks for data: NotReplica, nothing served.
        using (var socket = await ConnectAsync(leader))
        await using (var stream = new NetworkStream(socket))
        {
            await stream.WriteAsync(ReplicationCodec.Magic.ToArray());
            await ReplicationCodec.WriteAsync(stream, new FetchRequest("guarded", 0, "intruder", 1, 0, 1 << 20, 0), CancellationToken.None);
            var frame = await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None).WaitAsync(Bound);
            var response = ReplicationCodec.ReadFetchResponse(frame!.Value.Body);
            Assert.Equal(ReplicationError.NotReplica, response.Error);
            Assert.True(response.Batches.IsEmpty);

            // An unknown partition and a stale epoch from a real replica id are refused the same way.
            await ReplicationCodec.WriteAsync(stream, new FetchRequest("nope", 0, "n2", 1, 0, 1 << 20, 0), CancellationToken.None);
            frame = await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None).WaitAsync(Bound);
            Assert.Equal(ReplicationError.UnknownPartition, ReplicationCodec.ReadFetchResponse(frame!.Value.Body).Error);
            await ReplicationCodec.WriteAsync(stream, new FetchRequest("guarded", 0, "n2", 0, 0, 1 << 20, 0), CancellationToken.None);
            frame = await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None).WaitAsync(Bound);
            Assert.Equal(ReplicationError.FencedLeaderEpoch, ReplicationCodec.ReadFetchResponse(frame!.Value.Body).Error);
        }

        // Garbage after the magic: the connection is closed, nothing else happens.
        using (var socket = await ConnectAsync(leader))
        await using (var stream = new NetworkStream(socket))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("  R1\u00ff\u00ff\u00ff\u00ffgarbage"));
            var buffer = new byte[16];
            Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound));
        }

        // The leader still takes publishes with full replication.
        await using var producer = new Producer(leader.TcpAddress, new NsqConfig());
        await producer.PublishAsync("guarded", "still-fine"u8.ToArray()).AsTask().WaitAsync(Bound);
        Assert.Equal(3, harness.Partition("guarded").Isr.Count);
    }

    [Fact(Timeout = 60_000)]
    public async Task ReplicaMagic_OnAStandaloneNode_IsABadProtocol()
    {
        await using var nsqd = await NsqdProcess.StartAsync();
        using var socket = await ConnectAsync(nsqd);
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(ReplicationCodec.Magic.ToArray());
        var (type, data) = await NsqSharp.Common.Protocol.FrameReader.ReadAsync(stream, 1024, CancellationToken.None).AsTask().WaitAsync(Bound);
        Assert.Equal(NsqSharp.Common.Protocol.FrameType.Error, type);
        Assert.Equal("E_BAD_PROTOCOL", Encoding.ASCII.GetString(data));
    }

    [EtcdFact(Timeout = 120_000)]
    public async Task EtcdDownAtStart_NsqdServes_RefusesClusterWork_AndJoinsWhenEtcdIsUp()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        etcd.Kill9();
        await using var nsqd = await NsqdProcess.StartAsync($"--etcd-endpoints={etcd.ClientUrl}", "--cluster-name=late", "--node-id=n1");

        using var http = new HttpClient { Timeout = Bound };
        Assert.Equal("OK", await http.GetStringAsync($"{nsqd.HttpBase}/ping"));
        await using (var producer = new Producer(nsqd.TcpAddress, new NsqConfig()))
        {
            var e = await Assert.ThrowsAsync<NsqServerException>(() => producer.PublishAsync("early", "x"u8.ToArray()).AsTask().WaitAsync(Bound));
            Assert.Equal("E_CLUSTER_UNAVAILABLE", e.Code);
            await producer.PingAsync(); // still connected: the error is not fatal
        }

        await nsqd.WaitForOutputAsync("cannot read the cluster state from etcd", Bound);

        await etcd.RestartAsync();
        using var bound = new CancellationTokenSource(Bound);
        await using var retry = new Producer(nsqd.TcpAddress, new NsqConfig());
        while (true)
        {
            try
            {
                await retry.PublishAsync("early", "joined"u8.ToArray(), bound.Token);
                break;
            }
            catch (NsqServerException e) when (e.Code is "E_CLUSTER_UNAVAILABLE" or "E_NOT_LEADER") // joining: no state yet, or the roles not applied yet
            {
                await Task.Delay(200, bound.Token);
            }
        }

        await nsqd.WaitForOutputAsync("cluster: node n1 in cluster late", Bound);
    }

    private static async Task<Socket> ConnectAsync(NsqdProcess node)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", node.TcpPort);
        return socket;
    }

    private static IEnumerable<string> SplitArgs(string args)
    {
        // "--node-id=has space" is one argument: split only before "--".
        return args.Split(" --", StringSplitOptions.RemoveEmptyEntries).Select((a, i) => i == 0 ? a : "--" + a);
    }
}
