namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// What the TCP V1 and HTTP front ends need from the registry. <see cref="RegistrationDb"/> is the
/// standalone in-memory implementation; cluster mode can put a controller-backed one beside it (or
/// decorate this one) without touching the protocols.
/// </summary>
public interface ILookupRegistry
{
    // ---- nsqd peers (TCP V1) ----

    /// <summary>Registers an identified peer under category "client". False if already there.</summary>
    bool AddPeer(PeerInfo peer);

    /// <summary>Records a PING (or any sign of life) for the peer.</summary>
    void Touch(PeerInfo peer);

    bool RegisterTopic(PeerInfo peer, string topic);

    bool RegisterChannel(PeerInfo peer, string topic, string channel);

    /// <summary>Removes the peer from the channel; an ephemeral channel key goes when its last producer does.</summary>
    bool UnregisterChannel(PeerInfo peer, string topic, string channel);

    /// <summary>Removes the peer from the topic and from all that topic's channels.</summary>
    TopicUnregistration UnregisterTopic(PeerInfo peer, string topic);

    /// <summary>The peer disconnected: removes it everywhere. Returns the registrations it left.</summary>
    IReadOnlyList<Registration> RemovePeer(PeerInfo peer);

    // ---- administration (HTTP) ----

    void CreateTopic(string topic);

    /// <summary>Deletes the topic key and all its channel keys, with their producers.</summary>
    void DeleteTopic(string topic);

    /// <summary>Creates the channel key and the topic key.</summary>
    void CreateChannel(string topic, string channel);

    /// <summary>False if the channel key does not exist.</summary>
    bool DeleteChannel(string topic, string channel);

    /// <summary>Tombstones the producers of the topic whose broadcast_address:http_port is <paramref name="node"/>.</summary>
    int TombstoneTopicProducer(string topic, string node);

    // ---- queries ----

    IReadOnlyList<string> GetTopics();

    bool TopicExists(string topic);

    IReadOnlyList<string> GetChannels(string topic);

    /// <summary>Producers of the topic, leaving out inactive and tombstoned ones (/lookup).</summary>
    IReadOnlyList<PeerInfo> GetActiveProducers(string topic);

    /// <summary>Active identified peers with their topics and tombstone flags (/nodes).</summary>
    IReadOnlyList<NodeView> GetNodes();

    IReadOnlyList<DebugEntry> GetDebugEntries();
}
