namespace NsqSharp.Cluster.Replication.Protocol;

/// <summary>
/// Answers of the replica fetch protocol (docs/PROTOCOL.md, "Replication"). Kafka's codes where they mean the same.
/// </summary>
public enum ReplicationError : short
{
    None = 0,

    /// <summary>This node does not lead the partition (in the epoch asked): the follower re-reads the state.</summary>
    NotLeader = 1,

    /// <summary>The follower's epoch is older than the leader's: it follows a stale state and must re-read it.</summary>
    FencedLeaderEpoch = 2,

    /// <summary>The follower's epoch is newer than the leader's: the leader has not seen the change yet; retry.</summary>
    UnknownLeaderEpoch = 3,

    /// <summary>No such topic partition on this node.</summary>
    UnknownPartition = 4,

    /// <summary>The asking node is not one of the partition's replicas.</summary>
    NotReplica = 5,

    /// <summary>The fetch offset is past the leader's log end (truncate first) or below its log start.</summary>
    OffsetOutOfRange = 6,

    /// <summary>A malformed request.</summary>
    InvalidRequest = 7,

    /// <summary>The leader's log failed (disk): the partition needs a new leader.</summary>
    StorageError = 8,
}
