using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication;

/// <summary>Where the replica manager gets a partition's local log (nsqd: its broker's topic partitions).</summary>
public interface IPartitionLogs
{
    /// <summary>
    /// The log of a partition this node holds, created (empty, high watermark owned by replication) if new.
    /// <paramref name="localPartitions"/> lists every partition of the topic this node holds, so a new topic is
    /// created with all of them at once.
    /// </summary>
    ValueTask<PartitionLog> GetOrCreateAsync(string topic, int partition, IReadOnlyList<int> localPartitions, CancellationToken ct);
}

/// <summary>A partition's role on this node, as the broker sees it (consumers and publishes only on a leader).</summary>
public enum ReplicaRole
{
    None,
    Leader,
    Follower,
}

/// <summary>A change of role of one local partition (the broker drops subscribers when a leader stops leading).</summary>
public sealed record ReplicaRoleChange(string Topic, int Partition, ReplicaRole Role, long LeaderEpoch, string? Leader);
