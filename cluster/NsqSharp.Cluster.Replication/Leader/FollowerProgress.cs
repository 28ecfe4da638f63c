namespace NsqSharp.Cluster.Replication.Leader;

/// <summary>
/// What the leader knows of one follower: how far its log reaches (its last fetch offset) and when it last had
/// everything the leader had (its last fetch at or past the leader's log end at that moment).
/// </summary>
public sealed class FollowerProgress(string replicaId, long startedAt)
{
    public string ReplicaId { get; } = replicaId;

    /// <summary>The follower's log end as its last fetch said; -1 until it fetched in this leader's term.</summary>
    public long LogEnd { get; internal set; } = -1;

    /// <summary>Timestamp (TimeProvider) of the last time it was caught up; the term's start until then.</summary>
    public long LastCaughtUpAt { get; internal set; } = startedAt;

    /// <summary>Timestamp of its last fetch, 0 for none.</summary>
    public long LastFetchAt { get; internal set; }
}
