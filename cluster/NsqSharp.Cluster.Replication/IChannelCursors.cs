using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;

namespace NsqSharp.Cluster.Replication;

/// <summary>
/// Where cursor replication finds the channels of a partition (nsqd: its broker's, <see cref="BrokerChannelCursors"/>).
/// The leader exports each channel's checkpointed cursor state of the partition; a follower replaces its copy's with
/// it. Only persisted channels take part: ephemeral channels and topics are never replicated.
/// </summary>
public interface IChannelCursors
{
    /// <summary>Leader: the topic's persisted channels.</summary>
    IReadOnlyList<string> Channels(string topic);

    /// <summary>Leader: a copy of the channel's checkpointed state of the partition, or null when its version is
    /// <paramref name="knownVersion"/> (the follower has it) or there is no such channel.</summary>
    PartitionCursorState? Export(string topic, string channel, int partition, long knownVersion);

    /// <summary>Follower: the version of the leader's state each local persisted channel holds (none listed: none held).</summary>
    IReadOnlyList<KnownCursor> Known(string topic, int partition);

    /// <summary>Follower: replaces the local copy's cursor of the partition with the leader's state (creating the channel
    /// when the cluster lists it and this node lacks it). False when not applied (no such channel here, or this node
    /// leads the partition).</summary>
    bool Apply(string topic, string channel, PartitionCursorState state);
}
