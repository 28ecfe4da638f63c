using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Client.Consuming;

namespace NsqSharp.Client;

/// <summary>
/// Publishes through nsqlookupd discovery instead of to one fixed nsqd: each topic goes to a node lookupd lists for it,
/// one pipelined <see cref="Producer"/> per node. Against NsqSharp's cluster mode lookupd lists the partition leaders, so
/// publishes go straight to a leader (no forwarding hop); when leadership moves (<c>E_NOT_LEADER</c>) or the node is gone
/// (a lost connection), the producer asks lookupd again and retries on the new leader within
/// <see cref="RetryTimeout"/>. A topic lookupd does not know yet goes to any node it lists (<c>GET /nodes</c>), which
/// creates it as nsqd does. Against upstream nsqlookupd it publishes to the nodes that carry the topic.
/// </summary>
/// <remarks>A publish retried after a lost connection may have reached the old node first: at-least-once, as a retry
/// of <see cref="Producer"/>'s caller would be. Errors that say the publish was not taken and must not be retried
/// elsewhere (<c>E_NOT_ENOUGH_REPLICAS</c>, <c>E_BAD_TOPIC</c>, ...) are thrown at once.</remarks>
public sealed class LookupdProducer : IAsyncDisposable
{
    private readonly List<string> _lookupds;
    private readonly NsqConfig _config;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<string, Producer> _producers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _routes = new(StringComparer.Ordinal);
    private int _nextLookupd;
    private int _nextNode;
    private volatile bool _stopped;

    /// <summary>Creates a producer over one or more nsqlookupd HTTP addresses (<c>host:port</c> or URLs).</summary>
    /// <exception cref="ArgumentException">No or a bad address, or a bad config.</exception>
    public LookupdProducer(IEnumerable<string> lookupdHttpAddresses, NsqConfig? config = null, ILogger? logger = null)
    {
        _lookupds = [.. lookupdHttpAddresses];
        if (_lookupds.Count == 0)
        {
            throw new ArgumentException("at least one nsqlookupd HTTP address is needed", nameof(lookupdHttpAddresses));
        }

        foreach (var address in _lookupds)
        {
            LookupdEndpoint.Build(address, "validate");
        }

        _config = (config ?? new NsqConfig()).Clone();
        _config.Validate();
        _logger = logger ?? NullLogger.Instance;
        _http = new HttpClient { Timeout = _config.LookupdPollTimeout > TimeSpan.Zero ? _config.LookupdPollTimeout : TimeSpan.FromMinutes(1) };
    }

    /// <summary>How long a publish may go on being retried on a new leader (default 10 s: a failover plus margin).</summary>
    public TimeSpan RetryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The node addresses the topic is published to now (empty before its first publish).</summary>
    public IReadOnlyList<string> RouteOf(string topic) => _routes.TryGetValue(topic, out var nodes) ? nodes : [];

    /// <summary>PUB on a node lookupd lists for the topic; completes when that node acknowledged it.</summary>
    /// <exception cref="NsqServerException">The node refused it with an error that a retry elsewhere would not change.</exception>
    /// <exception cref="NsqException">No node took it within <see cref="RetryTimeout"/>.</exception>
    public Task PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        WithRetriesAsync(topic, p => p.PublishAsync(topic, body, cancellationToken), cancellationToken);

    /// <summary>MPUB (atomic batch) on a node lookupd lists for the topic; as <see cref="PublishAsync"/>.</summary>
    public Task MultiPublishAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies, CancellationToken cancellationToken = default) =>
        WithRetriesAsync(topic, p => p.MultiPublishAsync(topic, bodies, cancellationToken), cancellationToken);

    /// <summary>DPUB (delivered after <paramref name="delay"/>) on a node lookupd lists for the topic; as <see cref="PublishAsync"/>.</summary>
    public Task DeferredPublishAsync(string topic, TimeSpan delay, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default) =>
        WithRetriesAsync(topic, p => p.DeferredPublishAsync(topic, delay, body, cancellationToken), cancellationToken);

    private async Task WithRetriesAsync(string topic, Func<Producer, ValueTask> publish, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(RetryTimeout);
        for (var attempt = 0; ; attempt++)
        {
            var producer = await ProducerForAsync(topic, refresh: attempt > 0, bound.Token).ConfigureAwait(false);
            try
            {
                await publish(producer).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (Retriable(e) && !bound.IsCancellationRequested)
            {
                Log.PublishRerouted(_logger, topic, producer.Address, e);
                _routes.TryRemove(topic, out _);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 << Math.Min(attempt, 4))), bound.Token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Leadership moved or the node is gone: worth asking lookupd again. Anything else is the answer.</summary>
    private static bool Retriable(Exception e) =>
        e is NsqConnectionException || e is NsqServerException { Code: "E_NOT_LEADER" or "E_CLUSTER_UNAVAILABLE" };

    private async Task<Producer> ProducerForAsync(string topic, bool refresh, CancellationToken cancellationToken)
    {
        if (refresh || !_routes.TryGetValue(topic, out var nodes) || nodes.Length == 0)
        {
            nodes = await ResolveAsync(topic, cancellationToken).ConfigureAwait(false);
            _routes[topic] = nodes;
        }

        var address = nodes[(int)((uint)Interlocked.Increment(ref _nextNode) % (uint)nodes.Length)];
        return _producers.GetOrAdd(address, a => new Producer(a, _config, _logger));
    }

    /// <summary>The topic's producers from lookupd (trying each lookupd in turn), else any node lookupd knows.</summary>
    private async Task<string[]> ResolveAsync(string topic, CancellationToken cancellationToken)
    {
        Exception? last = null;
        for (var i = 0; i < _lookupds.Count; i++)
        {
            var lookupd = _lookupds[(int)((uint)Interlocked.Increment(ref _nextLookupd) % (uint)_lookupds.Count)];
            try
            {
                var endpoint = LookupdEndpoint.Build(lookupd, topic);
                var producers = await LookupdQuery.ProducersAsync(_http, _config, endpoint, _logger, cancellationToken).ConfigureAwait(false);
                if (producers.Count == 0)
                {
                    var nodes = new UriBuilder(endpoint) { Path = "/nodes", Query = "" }.Uri;
                    producers = await LookupdQuery.ProducersAsync(_http, _config, nodes, _logger, cancellationToken).ConfigureAwait(false);
                }

                if (producers.Count > 0)
                {
                    return [.. producers];
                }

                last = new NsqException($"nsqlookupd {lookupd} knows no nsqd for topic {topic}");
            }
            catch (Exception e) when (e is HttpRequestException or NsqException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = e;
            }
        }

        throw last as NsqException ?? new NsqException($"no nsqlookupd answered for topic {topic}", last);
    }

    /// <summary>Closes every connection (waiting for the publishes in flight, as <see cref="Producer"/> does).</summary>
    public async ValueTask DisposeAsync()
    {
        _stopped = true;
        foreach (var producer in _producers.Values)
        {
            await producer.DisposeAsync().ConfigureAwait(false);
        }

        _producers.Clear();
        _http.Dispose();
    }
}
