using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Cluster;

/// <summary>
/// nsqd's cluster agent as the server sees it: the one seam between the broker and cluster mode (the agent lives in
/// cluster/NsqSharp.Cluster.Replication; the host sets <see cref="NsqdServer.Cluster"/> before starting). Standalone
/// there is none and nothing here runs.
/// </summary>
public interface IClusterNode : IAsyncDisposable
{
    /// <summary>Which local partitions lead; set on <see cref="Broker.Broker.Roles"/> before the broker starts.</summary>
    IPartitionRoles Roles { get; }

    /// <summary>Channel changes that must reach the other replicas (combined with the lookupd registrar).</summary>
    IControlPlane ControlPlane { get; }

    /// <summary>Called once the broker runs and the listeners are bound (the node registers their ports). Returns
    /// without waiting for etcd: an unreachable store is retried in the background.</summary>
    Task StartAsync(NsqdServer server, CancellationToken ct);

    /// <summary>Serves a replica's connection to the TCP port (its "  R1" magic already read) until it ends.</summary>
    Task ServeReplicaAsync(Stream stream, CancellationToken ct);

    /// <summary>
    /// The partitions of <paramref name="topic"/> this node holds, creating the topic cluster-wide first when the
    /// cluster does not know it (as PUB and SUB create a topic standalone). Empty when others hold all of it.
    /// Throws <see cref="ClusterRequestException"/> when the cluster cannot answer.
    /// </summary>
    ValueTask<int[]> EnsureTopicAsync(string topic, CancellationToken ct);

    /// <summary>
    /// Publishes on a leader of the topic for a publisher that reached a node leading none of its writable partitions,
    /// and completes with the leader's answer: true when the leader acknowledged, else
    /// <see cref="ClusterRequestException"/> carrying the NSQ error code (the leader's own, or one of ours). False when
    /// this node itself became the topic's leader meanwhile: the caller publishes locally instead.
    /// </summary>
    Task<bool> ForwardAsync(ForwardedPublish publish, CancellationToken ct);

    /// <summary>The replication state of a local partition (/stats); null when the node does not hold it.</summary>
    PartitionReplicaInfo? Describe(string topic, int partition);
}

/// <summary>A publish to hand to the leader: PUB (one body, <see cref="DeferMs"/> 0), DPUB (one body), or MPUB.</summary>
public sealed record ForwardedPublish(string Topic, IReadOnlyList<ReadOnlyMemory<byte>> Bodies, bool Multiple, long DeferMs);

/// <summary>One local partition's replication state: role, leader epoch, leader and ISR (as in etcd).</summary>
public sealed record PartitionReplicaInfo(string Role, long LeaderEpoch, string? Leader, IReadOnlyList<string> Isr);

/// <summary>A cluster request (a forwarded publish, a topic the cluster must create) failed: the NSQ error code
/// (e.g. E_NOT_LEADER, E_NOT_ENOUGH_REPLICAS, E_CLUSTER_UNAVAILABLE, or the leader's own) and the text after it.</summary>
public sealed class ClusterRequestException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
