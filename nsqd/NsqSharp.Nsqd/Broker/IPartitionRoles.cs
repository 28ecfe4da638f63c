namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// Which local partitions lead (cluster mode; set on <see cref="Broker.Roles"/> by the node's cluster agent). Only
/// a leader's partition takes publishes and delivers to consumers; a follower's is a copy. Standalone there is no
/// roles object and every partition does both. The agent calls <see cref="Broker.OnPartitionRoleChanged"/> after a
/// change so cursors wake and subscribers of a partition that stopped leading are dropped.
/// </summary>
public interface IPartitionRoles
{
    /// <summary>This node leads the partition: its channels deliver from it.</summary>
    bool IsLeader(string topic, int partition);

    /// <summary>This node leads the partition and its ISR is big enough to acknowledge a publish.</summary>
    bool CanAcceptPublish(string topic, int partition);
}

/// <summary>No local partition of the topic leads (cluster mode): the publisher must go to the leader.</summary>
public sealed class NotLeaderException(string topic) : Exception($"this node does not lead a writable partition of {topic}")
{
    public string Topic { get; } = topic;
}

/// <summary>The publish was not replicated to enough in-sync replicas within the bound (cluster mode).</summary>
public sealed class NotEnoughReplicasException : Exception
{
    /// <summary>The replicas did not confirm within <paramref name="waited"/>.</summary>
    public NotEnoughReplicasException(string topic, TimeSpan waited)
        : base($"{topic}: not acknowledged by enough in-sync replicas within {waited.TotalSeconds:0.#} s") => Topic = topic;

    /// <summary>Refused before it was written, for the reason given (the leader's ISR is below min ISR).</summary>
    public NotEnoughReplicasException(string topic, string reason)
        : base($"{topic}: {reason}") => Topic = topic;

    public string Topic { get; }
}
