using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Controller;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.State;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>Three in-process "nodes" (replica manager + logs + fetch listener) on a real etcd, with a real controller.</summary>
public sealed class ReplicaManagerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly ClusterKeys Keys = new("rm");

    [EtcdFact(Timeout = 120_000)]
    public async Task APartitionReplicatesToItsIsr_AndSurvivesItsLeadersDeathWithEveryAckedMessage()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        using var dir = new TempDirectory("nsqsharp-rm");
        var nodes = new Dictionary<string, TestNode>();
        foreach (var id in new[] { "n1", "n2", "n3" })
        {
            nodes[id] = await TestNode.StartAsync(id, etcd.ClientUrl, Path.Combine(dir.Path, id));
        }

        await using var controllerStore = new EtcdMetadataStore(etcd.ClientUrl);
        await using var watcher = new ClusterWatcher(controllerStore, Keys);
        await watcher.StartAsync(CancellationToken.None);
        await watcher.WaitForAsync(v => v.Nodes.Count == 3, CancellationToken.None).WaitAsync(Bound);
        using var stopController = new CancellationTokenSource();
        var controller = new ClusterController(controllerStore, watcher, "lookupd", new ControllerOptions());
        var controllerRun = controller.RunAsync(stopController.Token);

        var writer = new ClusterStateWriter(controllerStore, Keys);
        Assert.True(await writer.CreateTopicAsync("t", new TopicConfig(1, 3, 2), [["n1", "n2", "n3"]], fence: null));
        var leaderLog = await nodes["n1"].WaitForLeaderLogAsync("t", 0);

        var acked = new List<string>();
        for (int i = 0; i < 100; i++)
        {
            await leaderLog.AppendAsync(Encoding.UTF8.GetBytes("m" + i), 0).AsTask().WaitAsync(Bound);
            acked.Add("m" + i);
        }

        // n1 dies (its process and lease gone). The controller moves leadership to an ISR member with epoch 2.
        await nodes["n1"].DisposeAsync();
        var moved = await watcher.WaitForAsync(v => v.Topics["t"].Partitions[0].State.Leader is "n2" or "n3", CancellationToken.None).WaitAsync(Bound);
        var state = moved.Topics["t"].Partitions[0].State;
        Assert.Equal(2, state.LeaderEpoch);
        var newLeader = nodes[state.Leader!];
        var newLeaderLog = await newLeader.WaitForLeaderLogAsync("t", 0);

        // With n1 gone the ISR shrinks to the two live nodes; min ISR 2 still holds, so publishes are acked again.
        for (int i = 100; i < 150; i++)
        {
            await newLeaderLog.AppendAsync(Encoding.UTF8.GetBytes("m" + i), 0).AsTask().WaitAsync(Bound);
            acked.Add("m" + i);
        }

        Assert.Equal(acked, ReadAll(newLeaderLog));
        var other = nodes[state.Leader == "n2" ? "n3" : "n2"];
        await WaitUntil(() => other.Log("t", 0)?.HighWatermark == 150);
        Assert.Equal(acked, ReadAll(other.Log("t", 0)!));

        await stopController.CancelAsync();
        await controllerRun;
        foreach (var node in nodes.Values)
        {
            await node.DisposeAsync();
        }
    }

    private static List<string> ReadAll(PartitionLog log)
    {
        var records = new List<LogRecord>();
        log.Read(log.StartOffset, int.MaxValue, int.MaxValue, LogBound.HighWatermark, records);
        return records.Select(r => Encoding.UTF8.GetString(r.Body.Span)).ToList();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    /// <summary>One node: its etcd session (lease + registration), logs, replica manager and fetch listener.</summary>
    private sealed class TestNode : IPartitionLogs, IAsyncDisposable
    {
        private readonly ConcurrentDictionary<(string, int), PartitionLog> _logs = new();
        private readonly string _dataPath;
        private EtcdMetadataStore _store = null!;
        private IStoreLease _lease = null!;
        private ClusterWatcher _watcher = null!;
        private ReplicaManager _manager = null!;
        private FetchListener _fetch = null!;
        private bool _disposed;

        private TestNode(string dataPath) => _dataPath = dataPath;

        public static async Task<TestNode> StartAsync(string id, string endpoint, string dataPath)
        {
            var node = new TestNode(dataPath);
            node._store = new EtcdMetadataStore(endpoint);
            node._lease = await node._store.GrantLeaseAsync(TimeSpan.FromSeconds(3));
            node._watcher = new ClusterWatcher(node._store, Keys);
            await node._watcher.StartAsync(CancellationToken.None);
            var writer = new ClusterStateWriter(node._store, Keys);
            var settings = new ReplicationSettings { ReplicaLagTime = TimeSpan.FromSeconds(2), FetchMaxWait = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(50) };
            node._manager = new ReplicaManager(node._watcher, writer, node, id, settings, TimeProvider.System, NullLogger.Instance) { IsrCheckInterval = TimeSpan.FromMilliseconds(200) };
            node._fetch = new FetchListener(node._manager);
            node._manager.Start();
            await writer.RegisterNodeAsync(new NodeRegistration(id, "127.0.0.1", node._fetch.Port, 0, "test"), node._lease);
            return node;
        }

        public PartitionLog? Log(string topic, int partition) => _logs.GetValueOrDefault((topic, partition));

        public async Task<PartitionLog> WaitForLeaderLogAsync(string topic, int partition)
        {
            await WaitUntil(() => _manager.FindLeader(topic, partition) is not null);
            return _manager.FindLeader(topic, partition)!.Log;
        }

        public ValueTask<PartitionLog> GetOrCreateAsync(string topic, int partition, IReadOnlyList<int> localPartitions, CancellationToken ct) =>
            ValueTask.FromResult(_logs.GetOrAdd((topic, partition), k => PartitionLog.Open(Path.Combine(_dataPath, k.Item1 + "-" + k.Item2), k.Item2,
                new PartitionLogOptions { HighWatermarkFollowsLogEnd = false }, NullLogger.Instance)));

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await _fetch.DisposeAsync();

            await _manager.DisposeAsync();
            await _lease.RevokeAsync();
            await _lease.DisposeAsync();
            await _watcher.DisposeAsync();
            await _store.DisposeAsync();
            foreach (var log in _logs.Values)
            {
                await log.DisposeAsync();
            }
        }

    }
}
