namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// What the broker tells the rest of the world about its topics and channels, and the one thing it asks:
/// the single seam between the broker and discovery/coordination. Standalone with --lookupd-tcp-address it is
/// the <see cref="Lookup.LookupRegistrar"/>; in cluster mode the node's cluster agent sits behind it. Events are
/// raised after the change took effect and must not block (implementations queue them).
/// </summary>
public interface IControlPlane
{
    void TopicCreated(string topic);

    void TopicDeleted(string topic);

    void ChannelCreated(string topic, string channel);

    void ChannelDeleted(string topic, string channel);

    /// <summary>An operator paused or unpaused the channel (cluster mode makes it cluster-wide; lookupd has no use for it).</summary>
    void ChannelPauseChanged(string topic, string channel, bool paused)
    {
    }

    /// <summary>Channels the world already knows for a topic this node just created (they are created at once, from the oldest message).</summary>
    Task<IReadOnlyList<string>> GetKnownChannelsAsync(string topic, CancellationToken ct);
}
