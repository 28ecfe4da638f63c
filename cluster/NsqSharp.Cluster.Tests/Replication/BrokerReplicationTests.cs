using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Controller;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.State;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>
/// Three in-process nsqd brokers in cluster mode (Broker.Roles = their replica manager) on a real etcd with a real
/// controller: publishes through the broker are acknowledged once the ISR has them, consumers read from the leader
/// only, and after the leader dies the new leader has every acknowledged message.
/// </summary>
public sealed class BrokerReplicationTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly ClusterKeys Keys = new("brokers");

    [EtcdFact(Timeout = 120_000)]
    public async Task PublishesThroughTheBrokerAreReplicated_AndSurviveTheLeader()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        using var dir = new TempDirectory("nsqsharp-brokers");
        var nodes = new Dictionary<string, BrokerClusterNode>();
        foreach (var id in new[] { "n1", "n2", "n3" })
        {
            nodes[id] = await BrokerClusterNode.StartAsync(id, etcd.ClientUrl, Path.Combine(dir.Path, id));
        }

        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        await using var watcher = new ClusterWatcher(store, Keys);
        await watcher.StartAsync(CancellationToken.None);
        await watcher.WaitForAsync(v => v.Nodes.Count == 3, CancellationToken.None).WaitAsync(Bound);
        using var stopController = new CancellationTokenSource();
        var controllerRun = new ClusterController(store, watcher, "lookupd", new ControllerOptions()).RunAsync(stopController.Token);
        Assert.True(await new ClusterStateWriter(store, Keys).CreateTopicAsync("orders", new TopicConfig(1, 3, 2), [["n1", "n2", "n3"]], fence: null));

        var leader = nodes["n1"];
        await WaitUntil(() => leader.Manager.CanAcceptPublish("orders", 0));
        Assert.True(leader.Broker.TryGetTopic("orders", out var topic));
        var acked = new List<string>();
        for (int i = 0; i < 100; i++)
        {
            await topic.PublishAsync(Encoding.UTF8.GetBytes("m" + i), 0).AsTask().WaitAsync(Bound);
            acked.Add("m" + i);
        }

        // A follower takes no publish and delivers nothing.
        Assert.True(nodes["n2"].Broker.TryGetTopic("orders", out var followerTopic));
        await Assert.ThrowsAsync<NotLeaderException>(() => followerTopic.PublishAsync("x"u8.ToArray(), 0).AsTask());

        await leader.DisposeAsync();
        var moved = await watcher.WaitForAsync(v => v.Topics["orders"].Partitions[0].State.Leader is "n2" or "n3", CancellationToken.None).WaitAsync(Bound);
        var next = nodes[moved.Topics["orders"].Partitions[0].State.Leader!];
        await WaitUntil(() => next.Manager.CanAcceptPublish("orders", 0));
        Assert.True(next.Broker.TryGetTopic("orders", out var nextTopic));
        for (int i = 100; i < 120; i++)
        {
            await nextTopic.PublishAsync(Encoding.UTF8.GetBytes("m" + i), 0).AsTask().WaitAsync(Bound);
            acked.Add("m" + i);
        }

        // A consumer of the new leader gets every acknowledged message, in order.
        var channel = nextTopic.GetOrCreateChannel("drain", StartPosition.Oldest);
        var consumer = new DrainConsumer();
        Assert.Null(channel.AddClient(consumer, 0));
        var received = new List<string>();
        using var drain = new CancellationTokenSource(Bound);
        while (received.Count < acked.Count)
        {
            if (channel.TryTake(consumer, 60_000, out var delivery, out _))
            {
                received.Add(Encoding.UTF8.GetString(delivery.Body.Span));
                continue;
            }

            await consumer.Woken.WaitAsync(drain.Token);
        }

        Assert.Equal(acked, received);
        await stopController.CancelAsync();
        await controllerRun;
        foreach (var node in nodes.Values)
        {
            await node.DisposeAsync();
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }

    private sealed class DrainConsumer : IChannelConsumer
    {
        public long ClientId => 1;

        public AsyncSignal Woken { get; } = new();

        public void InFlightReleased(int count)
        {
        }

        public void Wake() => Woken.Set();

        public void CloseForChannelDelete()
        {
        }

        public void CloseForLeadershipLoss(string error)
        {
        }
    }

    /// <summary>One in-process nsqd in cluster mode: broker, etcd session, replica manager, fetch listener.</summary>
    private sealed class BrokerClusterNode : IAsyncDisposable
    {
        private EtcdMetadataStore _store = null!;
        private IStoreLease _lease = null!;
        private ClusterWatcher _watcher = null!;
        private FetchListener _fetch = null!;
        private bool _disposed;

        public BrokerNode Broker { get; private set; } = null!;

        public ReplicaManager Manager { get; private set; } = null!;

        public static async Task<BrokerClusterNode> StartAsync(string id, string endpoint, string dataPath)
        {
            var node = new BrokerClusterNode();
            node._store = new EtcdMetadataStore(endpoint);
            node._lease = await node._store.GrantLeaseAsync(TimeSpan.FromSeconds(3));
            node._watcher = new ClusterWatcher(node._store, Keys);
            await node._watcher.StartAsync(CancellationToken.None);
            node.Broker = new BrokerNode(new NsqdOptions { DataPath = dataPath, Replicated = true }, NullLoggerFactory.Instance);
            var settings = new ReplicationSettings { ReplicaLagTime = TimeSpan.FromSeconds(2), FetchMaxWait = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(50) };
            var writer = new ClusterStateWriter(node._store, Keys);
            node.Manager = new ReplicaManager(node._watcher, writer, new BrokerPartitionLogs(node.Broker), id, settings, TimeProvider.System, NullLogger.Instance)
            {
                IsrCheckInterval = TimeSpan.FromMilliseconds(200),
            };
            node.Broker.Roles = node.Manager;
            node.Manager.RoleChanged += change => node.Broker.OnPartitionRoleChanged(change.Topic, change.Partition);
            node.Broker.Start();
            node._fetch = new FetchListener(node.Manager);
            node.Manager.Start();
            await writer.RegisterNodeAsync(new NodeRegistration(id, "127.0.0.1", node._fetch.Port, 0, "test"), node._lease);
            return node;
        }

        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await _fetch.DisposeAsync();

            await Manager.DisposeAsync();
            await _lease.RevokeAsync();
            await _lease.DisposeAsync();
            await _watcher.DisposeAsync();
            await _store.DisposeAsync();
            await Broker.DisposeAsync();
        }

    }
}
