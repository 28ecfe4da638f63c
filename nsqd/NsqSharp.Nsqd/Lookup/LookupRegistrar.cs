using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>
/// This nsqd's registration with every configured nsqlookupd (upstream nsqd/lookup.go). One
/// <see cref="LookupPeer"/> per address keeps its own connection, queue and reconnect loop, so
/// the broker's notifications never block and one slow lookupd cannot hold up another.
/// </summary>
public sealed class LookupRegistrar : IControlPlane, IAsyncDisposable
{
    private readonly NodeIdentity _self;
    private readonly Func<IReadOnlyList<(string Topic, string? Channel)>> _snapshot;
    private readonly ILogger _logger;
    private readonly LookupRegistrarOptions _options;
    private readonly object _gate = new();
    private List<LookupPeer> _peers = [];
    private bool _started;
    private bool _disposed;

    public LookupRegistrar(NodeIdentity self, IEnumerable<string> lookupdTcpAddresses,
        Func<IReadOnlyList<(string Topic, string? Channel)>> snapshot, ILogger logger)
        : this(self, lookupdTcpAddresses, snapshot, logger, new LookupRegistrarOptions())
    {
    }

    /// <param name="self">IDENTIFY body.</param>
    /// <param name="lookupdTcpAddresses">--lookupd-tcp-address values; duplicates ignored.</param>
    /// <param name="snapshot">Every topic (channel null) and topic+channel to register after each (re)connect.
    /// Upstream sends a topic alone only when it has no channels, since REGISTER topic channel registers both.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="options">Timings and bounds.</param>
    public LookupRegistrar(NodeIdentity self, IEnumerable<string> lookupdTcpAddresses,
        Func<IReadOnlyList<(string Topic, string? Channel)>> snapshot, ILogger logger, LookupRegistrarOptions options)
    {
        _self = self;
        _snapshot = snapshot;
        _logger = logger;
        _options = options;
        foreach (var address in Distinct(lookupdTcpAddresses))
        {
            _peers.Add(NewPeer(address));
        }
    }

    /// <summary>The configured lookupd TCP addresses.</summary>
    public IReadOnlyList<string> Addresses
    {
        get
        {
            var peers = Volatile.Read(ref _peers);
            var addresses = new string[peers.Count];
            for (var i = 0; i < addresses.Length; i++)
            {
                addresses[i] = peers[i].Address;
            }

            return addresses;
        }
    }

    public IReadOnlyList<LookupPeerStatus> Peers
    {
        get
        {
            var peers = Volatile.Read(ref _peers);
            var statuses = new LookupPeerStatus[peers.Count];
            for (var i = 0; i < statuses.Length; i++)
            {
                statuses[i] = peers[i].Status;
            }

            return statuses;
        }
    }

    /// <summary>"host:port" of every lookupd HTTP API we have learned of (upstream lookupdHTTPAddrs).</summary>
    public IReadOnlyList<string> LookupdHttpAddresses
    {
        get
        {
            var result = new List<string>();
            foreach (var peer in Volatile.Read(ref _peers))
            {
                if (peer.Info?.HttpAddress is { } address)
                {
                    result.Add(address);
                }
            }

            return result;
        }
    }

    /// <summary>Starts connecting to every lookupd; each then IDENTIFYs, registers the snapshot and PINGs.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_started || _disposed)
            {
                return;
            }

            _started = true;
            foreach (var peer in _peers)
            {
                peer.Start();
            }
        }
    }

    public void TopicCreated(string topic) => Broadcast(topic, null, register: true);

    public void TopicDeleted(string topic) => Broadcast(topic, null, register: false);

    public void ChannelCreated(string topic, string channel) => Broadcast(topic, channel, register: true);

    public void ChannelDeleted(string topic, string channel) => Broadcast(topic, channel, register: false);

    /// <summary>
    /// Channels of <paramref name="topic"/> known to the lookupds we are registered with, minus
    /// ephemeral ones, so the broker can create them before the topic takes messages (upstream
    /// nsqd.GetTopic). Bounded by a short timeout; empty if none answers.
    /// </summary>
    public async Task<IReadOnlyList<string>> GetKnownChannelsAsync(string topic, CancellationToken ct)
    {
        var addresses = LookupdHttpAddresses;
        if (addresses.Count == 0)
        {
            if (Volatile.Read(ref _peers).Count > 0)
            {
                _logger.LogError("no available nsqlookupd to query for channels to pre-create for topic {Topic}", topic);
            }

            return [];
        }

        try
        {
            return await LookupChannelsQuery.QueryAsync(addresses, topic, _options.ChannelQueryTimeout, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            _logger.LogWarning("failed to query nsqlookupd for channels to pre-create for topic {Topic} - {Error}", topic, e.Message);
            return [];
        }
    }

    /// <summary>Replaces the set of lookupds (PUT /config/nsqlookupd_tcp_addresses): new ones are connected, removed ones closed.</summary>
    public void SetAddresses(IEnumerable<string> lookupdTcpAddresses)
    {
        var wanted = Distinct(lookupdTcpAddresses);
        var removed = new List<LookupPeer>();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            var next = new List<LookupPeer>(wanted.Count);
            foreach (var peer in _peers)
            {
                if (wanted.Contains(peer.Address))
                {
                    next.Add(peer);
                }
                else
                {
                    _logger.LogInformation("LOOKUP({Address}): removing peer", peer.Address);
                    removed.Add(peer);
                }
            }

            foreach (var address in wanted)
            {
                if (!ContainsAddress(next, address))
                {
                    _logger.LogInformation("LOOKUP({Address}): adding peer", address);
                    var peer = NewPeer(address);
                    next.Add(peer);
                    if (_started)
                    {
                        peer.Start();
                    }
                }
            }

            Volatile.Write(ref _peers, next);
        }

        foreach (var peer in removed)
        {
            _ = CloseQuietlyAsync(peer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<LookupPeer> peers;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            peers = _peers;
            Volatile.Write(ref _peers, []);
        }

        var closing = new Task[peers.Count];
        for (var i = 0; i < closing.Length; i++)
        {
            closing[i] = CloseQuietlyAsync(peers[i]);
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    private void Broadcast(string topic, string? channel, bool register)
    {
        if (!NsqNames.IsValidTopicName(topic) || (channel != null && !NsqNames.IsValidChannelName(channel)))
        {
            _logger.LogWarning("LOOKUP: not announcing invalid name {Topic} {Channel}", topic, channel);
            return;
        }

        var command = register ? LookupCommand.Register(topic, channel) : LookupCommand.Unregister(topic, channel);
        foreach (var peer in Volatile.Read(ref _peers))
        {
            peer.Enqueue(command);
        }
    }

    private LookupPeer NewPeer(string address)
    {
        if (!LookupAddress.IsValid(address))
        {
            _logger.LogError("LOOKUP({Address}): not a host:port address; will keep failing", address);
        }

        return new LookupPeer(address, _self, _snapshot, _options, _logger);
    }

    private async Task CloseQuietlyAsync(LookupPeer peer)
    {
        try
        {
            await peer.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning("LOOKUP({Address}): error while closing - {Error}", peer.Address, e.Message);
        }
    }

    private static bool ContainsAddress(List<LookupPeer> peers, string address)
    {
        foreach (var peer in peers)
        {
            if (peer.Address == address)
            {
                return true;
            }
        }

        return false;
    }

    private static List<string> Distinct(IEnumerable<string> addresses)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var raw in addresses)
        {
            var address = raw?.Trim();
            if (!string.IsNullOrEmpty(address) && seen.Add(address))
            {
                result.Add(address);
            }
        }

        return result;
    }
}
