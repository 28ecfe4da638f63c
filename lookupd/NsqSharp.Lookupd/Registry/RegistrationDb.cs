using NsqSharp.Common.Protocol;

namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// The standalone registry: upstream's RegistrationDB (a map of registration key → producers by
/// peer id) plus indexes so that /lookup, /channels and disconnects touch only what they need.
/// Keys outlive their producers (an nsqd restart does not make a topic vanish) except #ephemeral
/// ones, which go with their last producer. One lock; no I/O under it.
/// </summary>
public sealed class RegistrationDb : ILookupRegistry
{
    private readonly object _gate = new();
    private readonly Dictionary<Registration, Dictionary<string, Producer>> _map = [];
    private readonly HashSet<string> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _channelsByTopic = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Registration>> _byPeer = new(StringComparer.Ordinal);
    private readonly TimeSpan _inactiveProducerTimeout;
    private readonly TimeSpan _tombstoneLifetime;
    private readonly TimeProvider _clock;

    public RegistrationDb(TimeSpan inactiveProducerTimeout, TimeSpan tombstoneLifetime, TimeProvider? clock = null)
    {
        _inactiveProducerTimeout = inactiveProducerTimeout;
        _tombstoneLifetime = tombstoneLifetime;
        _clock = clock ?? TimeProvider.System;
    }

    public RegistrationDb(LookupdOptions options)
        : this(options.InactiveProducerTimeout, options.TombstoneLifetime, options.TimeProvider)
    {
    }

    /// <summary>Current time as Unix nanoseconds, the unit of upstream's last_update.</summary>
    public long NowUnixNanos() => (_clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    // ---------------------------------------------------------------- peers

    public bool AddPeer(PeerInfo peer)
    {
        lock (_gate)
        {
            return AddProducerLocked(Registration.Client, peer);
        }
    }

    public void Touch(PeerInfo peer) => peer.LastUpdateUnixNanos = NowUnixNanos();

    public bool RegisterTopic(PeerInfo peer, string topic)
    {
        lock (_gate)
        {
            return AddProducerLocked(Registration.Topic(topic), peer);
        }
    }

    public bool RegisterChannel(PeerInfo peer, string topic, string channel)
    {
        lock (_gate)
        {
            return AddProducerLocked(Registration.Channel(topic, channel), peer);
        }
    }

    public bool UnregisterChannel(PeerInfo peer, string topic, string channel)
    {
        lock (_gate)
        {
            return RemoveProducerLocked(Registration.Channel(topic, channel), peer);
        }
    }

    public TopicUnregistration UnregisterTopic(PeerInfo peer, string topic)
    {
        lock (_gate)
        {
            // nsqd unregisters channels before their topic, so anything removed here was unexpected.
            List<string>? unexpected = null;
            if (_channelsByTopic.TryGetValue(topic, out var channels))
            {
                foreach (var channel in SnapshotOf(channels))
                {
                    if (RemoveProducerLocked(Registration.Channel(topic, channel), peer))
                    {
                        (unexpected ??= []).Add(channel);
                    }
                }
            }

            var removed = RemoveProducerLocked(Registration.Topic(topic), peer);
            return new TopicUnregistration(removed, unexpected ?? (IReadOnlyList<string>)[]);
        }
    }

    public IReadOnlyList<Registration> RemovePeer(PeerInfo peer)
    {
        lock (_gate)
        {
            if (!_byPeer.TryGetValue(peer.Id, out var keys))
            {
                return [];
            }

            var removed = new List<Registration>(keys.Count);
            foreach (var key in SnapshotOf(keys))
            {
                if (RemoveProducerLocked(key, peer))
                {
                    removed.Add(key);
                }
            }

            return removed;
        }
    }

    // ---------------------------------------------------------------- administration

    public void CreateTopic(string topic)
    {
        lock (_gate)
        {
            EnsureKeyLocked(Registration.Topic(topic));
        }
    }

    public void DeleteTopic(string topic)
    {
        lock (_gate)
        {
            if (_channelsByTopic.TryGetValue(topic, out var channels))
            {
                foreach (var channel in SnapshotOf(channels))
                {
                    RemoveKeyLocked(Registration.Channel(topic, channel));
                }
            }

            RemoveKeyLocked(Registration.Topic(topic));
        }
    }

    public void CreateChannel(string topic, string channel)
    {
        lock (_gate)
        {
            EnsureKeyLocked(Registration.Channel(topic, channel));
            EnsureKeyLocked(Registration.Topic(topic));
        }
    }

    public bool DeleteChannel(string topic, string channel)
    {
        lock (_gate)
        {
            return RemoveKeyLocked(Registration.Channel(topic, channel));
        }
    }

    public int TombstoneTopicProducer(string topic, string node)
    {
        var now = NowUnixNanos();
        var count = 0;
        lock (_gate)
        {
            if (_map.TryGetValue(Registration.Topic(topic), out var producers))
            {
                foreach (var producer in producers.Values)
                {
                    if (string.Equals(producer.Peer.NodeName, node, StringComparison.Ordinal))
                    {
                        producer.Tombstone(now);
                        count++;
                    }
                }
            }
        }

        return count;
    }

    // ---------------------------------------------------------------- queries

    public IReadOnlyList<string> GetTopics()
    {
        lock (_gate)
        {
            return Sorted(_topics);
        }
    }

    public bool TopicExists(string topic)
    {
        lock (_gate)
        {
            return _topics.Contains(topic);
        }
    }

    public IReadOnlyList<string> GetChannels(string topic)
    {
        lock (_gate)
        {
            return _channelsByTopic.TryGetValue(topic, out var channels) ? Sorted(channels) : [];
        }
    }

    public IReadOnlyList<PeerInfo> GetActiveProducers(string topic)
    {
        var now = NowUnixNanos();
        lock (_gate)
        {
            if (!_map.TryGetValue(Registration.Topic(topic), out var producers))
            {
                return [];
            }

            var result = new List<PeerInfo>(producers.Count);
            foreach (var producer in producers.Values)
            {
                if (IsActive(producer.Peer, now) && !producer.IsTombstoned(_tombstoneLifetime, now))
                {
                    result.Add(producer.Peer);
                }
            }

            return result;
        }
    }

    /// <summary>Identified peers whose last PING is recent, without their topics (cluster mode matches nodes to them).</summary>
    public IReadOnlyList<PeerInfo> GetActivePeers()
    {
        var now = NowUnixNanos();
        lock (_gate)
        {
            if (!_map.TryGetValue(Registration.Client, out var clients))
            {
                return [];
            }

            var peers = new List<PeerInfo>(clients.Count);
            foreach (var client in clients.Values)
            {
                if (IsActive(client.Peer, now))
                {
                    peers.Add(client.Peer);
                }
            }

            return peers;
        }
    }

    public IReadOnlyList<NodeView> GetNodes()
    {
        var now = NowUnixNanos();
        lock (_gate)
        {
            if (!_map.TryGetValue(Registration.Client, out var clients))
            {
                return [];
            }

            var nodes = new List<NodeView>(clients.Count);
            foreach (var client in clients.Values)
            {
                var peer = client.Peer;
                if (!IsActive(peer, now))
                {
                    continue; // tombstoned nodes stay listed; only inactivity hides them here
                }

                var topics = new List<string>();
                if (_byPeer.TryGetValue(peer.Id, out var keys))
                {
                    foreach (var key in keys)
                    {
                        if (key.Category == Registration.TopicCategory)
                        {
                            topics.Add(key.Key);
                        }
                    }
                }

                topics.Sort(StringComparer.Ordinal);
                var tombstones = new bool[topics.Count];
                for (var i = 0; i < topics.Count; i++)
                {
                    if (_map.TryGetValue(Registration.Topic(topics[i]), out var producers) &&
                        producers.TryGetValue(peer.Id, out var producer) && ReferenceEquals(producer.Peer, peer))
                    {
                        tombstones[i] = producer.IsTombstoned(_tombstoneLifetime, now);
                    }
                }

                nodes.Add(new NodeView(peer, topics, tombstones));
            }

            return nodes;
        }
    }

    public IReadOnlyList<DebugEntry> GetDebugEntries()
    {
        lock (_gate)
        {
            var entries = new List<DebugEntry>();
            foreach (var (key, producers) in _map)
            {
                foreach (var producer in producers.Values)
                {
                    entries.Add(new DebugEntry(key, producer.Peer, producer.Tombstoned, producer.TombstonedAtUnixNanos));
                }
            }

            return entries;
        }
    }

    // ---------------------------------------------------------------- internals

    private bool IsActive(PeerInfo peer, long nowUnixNanos) =>
        nowUnixNanos - peer.LastUpdateUnixNanos <= _inactiveProducerTimeout.Ticks * 100;

    private Dictionary<string, Producer> EnsureKeyLocked(Registration key)
    {
        if (_map.TryGetValue(key, out var producers))
        {
            return producers;
        }

        producers = new Dictionary<string, Producer>(StringComparer.Ordinal);
        _map.Add(key, producers);
        switch (key.Category)
        {
            case Registration.TopicCategory:
                _topics.Add(key.Key);
                break;
            case Registration.ChannelCategory:
                if (!_channelsByTopic.TryGetValue(key.Key, out var channels))
                {
                    channels = new HashSet<string>(StringComparer.Ordinal);
                    _channelsByTopic.Add(key.Key, channels);
                }

                channels.Add(key.SubKey);
                break;
        }

        return producers;
    }

    private bool AddProducerLocked(Registration key, PeerInfo peer)
    {
        var producers = EnsureKeyLocked(key);
        if (producers.ContainsKey(peer.Id))
        {
            return false; // keep the existing producer and its tombstone, as upstream
        }

        producers.Add(peer.Id, new Producer(peer));
        if (!_byPeer.TryGetValue(peer.Id, out var keys))
        {
            keys = [];
            _byPeer.Add(peer.Id, keys);
        }

        keys.Add(key);
        return true;
    }

    /// <summary>Removes this peer's producer from the key; drops an #ephemeral key left empty.</summary>
    private bool RemoveProducerLocked(Registration key, PeerInfo peer)
    {
        if (!_map.TryGetValue(key, out var producers))
        {
            return false;
        }

        var removed = false;
        if (producers.TryGetValue(peer.Id, out var producer) && ReferenceEquals(producer.Peer, peer))
        {
            producers.Remove(peer.Id);
            ForgetPeerKeyLocked(peer.Id, key);
            removed = true;
        }

        if (producers.Count == 0 && IsEphemeralKey(key))
        {
            RemoveKeyLocked(key);
        }

        return removed;
    }

    private bool RemoveKeyLocked(Registration key)
    {
        if (!_map.Remove(key, out var producers))
        {
            return false;
        }

        foreach (var peerId in producers.Keys)
        {
            ForgetPeerKeyLocked(peerId, key);
        }

        switch (key.Category)
        {
            case Registration.TopicCategory:
                _topics.Remove(key.Key);
                break;
            case Registration.ChannelCategory:
                if (_channelsByTopic.TryGetValue(key.Key, out var channels) && channels.Remove(key.SubKey) && channels.Count == 0)
                {
                    _channelsByTopic.Remove(key.Key);
                }

                break;
        }

        return true;
    }

    private void ForgetPeerKeyLocked(string peerId, Registration key)
    {
        if (_byPeer.TryGetValue(peerId, out var keys) && keys.Remove(key) && keys.Count == 0)
        {
            _byPeer.Remove(peerId);
        }
    }

    private static bool IsEphemeralKey(Registration key) => key.Category switch
    {
        Registration.TopicCategory => NsqNames.IsEphemeral(key.Key),
        Registration.ChannelCategory => NsqNames.IsEphemeral(key.SubKey),
        _ => false,
    };

    private static T[] SnapshotOf<T>(HashSet<T> set)
    {
        var copy = new T[set.Count];
        set.CopyTo(copy);
        return copy;
    }

    private static string[] Sorted(HashSet<string> set)
    {
        var array = SnapshotOf(set);
        Array.Sort(array, StringComparer.Ordinal);
        return array;
    }

    // ---- ILookupRegistry: the in-memory registry answers at once ----

    ValueTask<bool> ILookupRegistry.AddPeerAsync(PeerInfo peer) => new(AddPeer(peer));

    ValueTask ILookupRegistry.TouchAsync(PeerInfo peer)
    {
        Touch(peer);
        return ValueTask.CompletedTask;
    }

    ValueTask<bool> ILookupRegistry.RegisterTopicAsync(PeerInfo peer, string topic) => new(RegisterTopic(peer, topic));

    ValueTask<bool> ILookupRegistry.RegisterChannelAsync(PeerInfo peer, string topic, string channel) => new(RegisterChannel(peer, topic, channel));

    ValueTask<bool> ILookupRegistry.UnregisterChannelAsync(PeerInfo peer, string topic, string channel) => new(UnregisterChannel(peer, topic, channel));

    ValueTask<TopicUnregistration> ILookupRegistry.UnregisterTopicAsync(PeerInfo peer, string topic) => new(UnregisterTopic(peer, topic));

    ValueTask<IReadOnlyList<Registration>> ILookupRegistry.RemovePeerAsync(PeerInfo peer) => new(RemovePeer(peer));

    ValueTask ILookupRegistry.CreateTopicAsync(string topic)
    {
        CreateTopic(topic);
        return ValueTask.CompletedTask;
    }

    ValueTask ILookupRegistry.DeleteTopicAsync(string topic)
    {
        DeleteTopic(topic);
        return ValueTask.CompletedTask;
    }

    ValueTask ILookupRegistry.CreateChannelAsync(string topic, string channel)
    {
        CreateChannel(topic, channel);
        return ValueTask.CompletedTask;
    }

    ValueTask<bool> ILookupRegistry.DeleteChannelAsync(string topic, string channel) => new(DeleteChannel(topic, channel));

    ValueTask<int> ILookupRegistry.TombstoneTopicProducerAsync(string topic, string node) => new(TombstoneTopicProducer(topic, node));

    ValueTask<IReadOnlyList<string>> ILookupRegistry.GetTopicsAsync() => new(GetTopics());

    ValueTask<bool> ILookupRegistry.TopicExistsAsync(string topic) => new(TopicExists(topic));

    ValueTask<IReadOnlyList<string>> ILookupRegistry.GetChannelsAsync(string topic) => new(GetChannels(topic));

    ValueTask<IReadOnlyList<PeerInfo>> ILookupRegistry.GetActiveProducersAsync(string topic) => new(GetActiveProducers(topic));

    ValueTask<IReadOnlyList<PeerInfo>> ILookupRegistry.GetActivePeersAsync() => new(GetActivePeers());

    ValueTask<IReadOnlyList<NodeView>> ILookupRegistry.GetNodesAsync() => new(GetNodes());

    ValueTask<IReadOnlyList<DebugEntry>> ILookupRegistry.GetDebugEntriesAsync() => new(GetDebugEntries());
}
