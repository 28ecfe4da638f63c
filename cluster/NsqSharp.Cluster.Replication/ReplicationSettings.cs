namespace NsqSharp.Cluster.Replication;

/// <summary>Timing of replication (nsqd flags in cluster mode, docs/OPERATIONS.md).</summary>
public sealed class ReplicationSettings
{
    /// <summary>An ISR member that has not caught up with the leader's log end for this long is dropped from the
    /// ISR (Kafka's replica.lag.time.max.ms). Short enough that a dead follower stops holding acks back quickly.</summary>
    public TimeSpan ReplicaLagTime { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>How long a caught-up follower's fetch waits at the leader for new data (long poll).</summary>
    public TimeSpan FetchMaxWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Batch bytes a follower asks for per fetch.</summary>
    public int FetchMaxBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Pause before a follower retries after an error or a lost connection.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a follower asks its leader for the channels' cursor states that changed (about the leader's
    /// checkpoint interval: the state it serves moves once a second).</summary>
    public TimeSpan CursorSyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Bound on connecting to a leader and on each request/response exchange beyond the long poll.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>DEBUG, UNSAFE: the leader's high watermark follows its own log end, so a publish is acknowledged once
    /// the leader alone fsynced it (a broker that acknowledges before replicating). Exists so the chaos harness can show
    /// that its checker catches exactly that bug (lost acknowledged messages after a leader failover).</summary>
    public bool UnsafeAckOnLeaderOnly { get; init; }
}
