using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Cluster;

/// <summary>Cluster mode with lookupd registration: every event goes to both; known channels are the union.</summary>
internal sealed class CombinedControlPlane(IControlPlane cluster, IControlPlane lookup) : IControlPlane
{
    public void TopicCreated(string topic)
    {
        cluster.TopicCreated(topic);
        lookup.TopicCreated(topic);
    }

    public void TopicDeleted(string topic)
    {
        cluster.TopicDeleted(topic);
        lookup.TopicDeleted(topic);
    }

    public void ChannelCreated(string topic, string channel)
    {
        cluster.ChannelCreated(topic, channel);
        lookup.ChannelCreated(topic, channel);
    }

    public void ChannelDeleted(string topic, string channel)
    {
        cluster.ChannelDeleted(topic, channel);
        lookup.ChannelDeleted(topic, channel);
    }

    public void ChannelPauseChanged(string topic, string channel, bool paused)
    {
        cluster.ChannelPauseChanged(topic, channel, paused);
        lookup.ChannelPauseChanged(topic, channel, paused);
    }

    public async Task<IReadOnlyList<string>> GetKnownChannelsAsync(string topic, CancellationToken ct)
    {
        var fromCluster = cluster.GetKnownChannelsAsync(topic, ct);
        var fromLookup = lookup.GetKnownChannelsAsync(topic, ct);
        var all = new SortedSet<string>(await fromCluster.ConfigureAwait(false), StringComparer.Ordinal);
        all.UnionWith(await fromLookup.ConfigureAwait(false));
        return [.. all];
    }
}
