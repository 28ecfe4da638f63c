using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Cluster;

namespace NsqSharp.Cluster.Replication.Agent;

// Topics on first use. A PUB or SUB of a topic the cluster does not know creates it cluster-wide, as nsqd creates a
// topic standalone: --topic-partitions partitions, replicas = min(3, live nodes), min ISR 2 from 3 replicas on
// (lookupd's /topic/create defaults), placed over the live nodes. The create is one etcd transaction guarded by the
// config key's absence, so two nodes creating at once make one topic. Ephemeral topics stay local to the node.
public sealed partial class ClusterAgent
{
    public async ValueTask<int[]> EnsureTopicAsync(string topic, CancellationToken ct)
    {
        if (NsqNames.IsEphemeral(topic))
        {
            return [.. Enumerable.Range(0, Math.Max(1, _options.DefaultPartitions))];
        }

        if (!Joined)
        {
            throw new ClusterRequestException(ClusterProtocol.ClusterUnavailable, "this node has not joined the cluster yet (etcd unreachable?)");
        }

        var view = _watcher.Current;
        if (!IsPlaced(view, topic))
        {
            await CreateTopicAsync(view, topic, ct).ConfigureAwait(false);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(_options.RequestTimeout);
            try
            {
                view = await _watcher.WaitForAsync(v => IsPlaced(v, topic), bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new ClusterRequestException(ClusterProtocol.ClusterUnavailable, $"topic {topic} was created but its state did not arrive within {_options.RequestTimeout.TotalSeconds:0.#} s");
            }
        }

        return LocalPartitions(view, topic);
    }

    private static bool IsPlaced(ClusterView view, string topic) =>
        view.Topics.TryGetValue(topic, out var t) && t.Config is { } config && t.Partitions.Count >= config.Partitions;

    private int[] LocalPartitions(ClusterView view, string topic) =>
        [.. view.Topics[topic].Partitions.Values.Where(p => p.State.Replicas.Contains(NodeId)).Select(p => p.Partition)];

    private async Task CreateTopicAsync(ClusterView view, string topic, CancellationToken ct)
    {
        var nodes = view.Nodes.Keys.ToList();
        if (nodes.Count == 0)
        {
            throw new ClusterRequestException(ClusterProtocol.ClusterUnavailable, "no live nodes registered");
        }

        var replicas = Math.Min(3, nodes.Count);
        var config = new TopicConfig(Math.Max(1, _options.DefaultPartitions), replicas, replicas >= 3 ? 2 : 1);
        var placements = Placement.Assign(nodes, config.Partitions, config.Replicas, view.AllPartitions);
        try
        {
            if (await _writer.CreateTopicAsync(topic, config, placements, fence: null, ct).ConfigureAwait(false))
            {
                _logger.LogInformation("cluster: created topic {Topic} ({Partitions} partitions, {Replicas} replicas, min isr {MinIsr}) on first use",
                    topic, config.Partitions, config.Replicas, config.MinIsr);
            }
        }
        catch (Exception e) when (e is MetadataStoreUnavailableException or Grpc.Core.RpcException)
        {
            throw new ClusterRequestException(ClusterProtocol.ClusterUnavailable, $"cannot create topic {topic} in etcd: {e.Message}");
        }
    }

    public PartitionReplicaInfo? Describe(string topic, int partition)
    {
        if (!_watcher.Current.Topics.TryGetValue(topic, out var t) || !t.Partitions.TryGetValue(partition, out var p)
            || !p.State.Replicas.Contains(NodeId))
        {
            return null;
        }

        var role = Manager?.RoleOf(topic, partition) switch
        {
            ReplicaRole.Leader => "leader",
            ReplicaRole.Follower => "follower",
            _ => "none",
        };
        var isr = Manager?.FindLeader(topic, partition)?.Isr ?? p.State.Isr;
        return new PartitionReplicaInfo(role, p.State.LeaderEpoch, p.State.Leader, isr);
    }
}
