namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// What the TCP V1 and HTTP front ends need from the registry. <see cref="RegistrationDb"/> is the
/// standalone in-memory implementation (it answers synchronously); cluster mode puts a controller-backed
/// one behind the same seam, which reads and writes etcd and so cannot: hence every call is async.
/// </summary>
public interface ILookupRegistry
{
    // ---- nsqd peers (TCP V1) ----

    /// <summary>Registers an identified peer under category "client". False if already there.</summary>
    ValueTask<bool> AddPeerAsync(PeerInfo peer);

    /// <summary>Records a PING (or any sign of life) for the peer.</summary>
    ValueTask TouchAsync(PeerInfo peer);

    ValueTask<bool> RegisterTopicAsync(PeerInfo peer, string topic);

    ValueTask<bool> RegisterChannelAsync(PeerInfo peer, string topic, string channel);

    /// <summary>Removes the peer from the channel; an ephemeral channel key goes when its last producer does.</summary>
    ValueTask<bool> UnregisterChannelAsync(PeerInfo peer, string topic, string channel);

    /// <summary>Removes the peer from the topic and from all that topic's channels.</summary>
    ValueTask<TopicUnregistration> UnregisterTopicAsync(PeerInfo peer, string topic);

    /// <summary>The peer disconnected: removes it everywhere. Returns the registrations it left.</summary>
    ValueTask<IReadOnlyList<Registration>> RemovePeerAsync(PeerInfo peer);

    // ---- administration (HTTP) ----

    ValueTask CreateTopicAsync(string topic);

    /// <summary>Deletes the topic key and all its channel keys, with their producers.</summary>
    ValueTask DeleteTopicAsync(string topic);

    /// <summary>Creates the channel key and the topic key.</summary>
    ValueTask CreateChannelAsync(string topic, string channel);

    /// <summary>False if the channel key does not exist.</summary>
    ValueTask<bool> DeleteChannelAsync(string topic, string channel);

    /// <summary>Tombstones the producers of the topic whose broadcast_address:http_port is <paramref name="node"/>.</summary>
    ValueTask<int> TombstoneTopicProducerAsync(string topic, string node);

    // ---- queries ----

    ValueTask<IReadOnlyList<string>> GetTopicsAsync();

    ValueTask<bool> TopicExistsAsync(string topic);

    ValueTask<IReadOnlyList<string>> GetChannelsAsync(string topic);

    /// <summary>Producers of the topic, leaving out inactive and tombstoned ones (/lookup).</summary>
    ValueTask<IReadOnlyList<PeerInfo>> GetActiveProducersAsync(string topic);

    /// <summary>Active identified peers (category "client"), without their topics.</summary>
    ValueTask<IReadOnlyList<PeerInfo>> GetActivePeersAsync();

    /// <summary>Active identified peers with their topics and tombstone flags (/nodes).</summary>
    ValueTask<IReadOnlyList<NodeView>> GetNodesAsync();

    ValueTask<IReadOnlyList<DebugEntry>> GetDebugEntriesAsync();
}
