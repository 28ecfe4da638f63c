using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Broker.Cursors;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Cluster.Replication;

/// <summary>
/// The node's channels as cursor replication sees them: its broker's topics. A channel the leader has and this node
/// lacks is created here (from the oldest message, as cluster-wide channels are) only when
/// <paramref name="clusterHasChannel"/> says the cluster state lists it, so a channel just deleted cluster-wide is not
/// brought back by a late answer.
/// </summary>
public sealed class BrokerChannelCursors(BrokerNode broker, Func<string, string, bool> clusterHasChannel) : IChannelCursors
{
    public IReadOnlyList<string> Channels(string topic)
    {
        if (NsqNames.IsEphemeral(topic) || !broker.TryGetTopic(topic, out var t) || t.IsDeleting)
        {
            return [];
        }

        return [.. t.Channels.Where(c => !c.IsEphemeral).Select(c => c.Name)];
    }

    public PartitionCursorState? Export(string topic, string channel, int partition, long knownVersion) =>
        broker.TryGetTopic(topic, out var t) && t.TryGetChannel(channel, out var c) ? c.ExportCursor(partition, knownVersion) : null;

    public IReadOnlyList<KnownCursor> Known(string topic, int partition)
    {
        if (NsqNames.IsEphemeral(topic) || !broker.TryGetTopic(topic, out var t))
        {
            return [];
        }

        var known = new List<KnownCursor>();
        foreach (var channel in t.Channels)
        {
            if (!channel.IsEphemeral && channel.ReplicatedCursorVersion(partition) is var version and not 0)
            {
                known.Add(new KnownCursor(channel.Name, version));
            }
        }

        return known;
    }

    public bool Apply(string topic, string channel, PartitionCursorState state)
    {
        if (NsqNames.IsEphemeral(topic) || NsqNames.IsEphemeral(channel) || !broker.TryGetTopic(topic, out var t) || t.IsDeleting)
        {
            return false;
        }

        if (!t.TryGetChannel(channel, out var c))
        {
            if (!clusterHasChannel(topic, channel) || t.TryGetOrCreateChannel(channel, StartPosition.Oldest) is not { } created)
            {
                return false;
            }

            c = created;
        }

        return c.ApplyReplicatedCursor(state);
    }
}
