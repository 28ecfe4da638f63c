using Microsoft.Extensions.Logging;

namespace NsqSharp.Client.Consuming;

/// <summary>
/// Discovers the nsqds that have a topic by polling nsqlookupd <c>/lookup</c>, round-robin over the configured
/// lookupds (up to 3 tries per round), every <c>lookupd_poll_interval</c> after a random initial delay of up to
/// <c>lookupd_poll_jitter × interval</c>, and early when a connection is lost.
/// </summary>
internal sealed class LookupdPoller : IDisposable
{
    private readonly object _gate = new();
    private readonly List<Uri> _endpoints = [];
    private readonly string _topic;
    private readonly NsqConfig _config;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Func<IReadOnlyList<string>, CancellationToken, Task> _onProducers;
    private readonly SemaphoreSlim _recheck = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _next;

    public LookupdPoller(string topic, NsqConfig config, ILogger logger, HttpMessageHandler? handler,
        Func<IReadOnlyList<string>, CancellationToken, Task> onProducers)
    {
        _topic = topic;
        _config = config;
        _logger = logger;
        _onProducers = onProducers;
        _http = handler == null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = config.LookupdPollTimeout > TimeSpan.Zero ? config.LookupdPollTimeout : TimeSpan.FromMinutes(1);
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _endpoints.Count;
            }
        }
    }

    /// <summary>Adds a lookupd; returns true when it is the first one (the caller then queries and starts polling).</summary>
    public bool Add(string address)
    {
        var endpoint = LookupdEndpoint.Build(address, _topic);
        lock (_gate)
        {
            if (_endpoints.Contains(endpoint))
            {
                return false;
            }

            _endpoints.Add(endpoint);
            return _endpoints.Count == 1;
        }
    }

    /// <exception cref="InvalidOperationException">It is the last lookupd (go-nsq refuses that too).</exception>
    public bool Remove(string address)
    {
        var endpoint = LookupdEndpoint.Build(address, _topic);
        lock (_gate)
        {
            if (!_endpoints.Contains(endpoint))
            {
                return false;
            }

            if (_endpoints.Count == 1)
            {
                throw new InvalidOperationException($"cannot disconnect from only remaining nsqlookupd HTTP address {address}");
            }

            return _endpoints.Remove(endpoint);
        }
    }

    public void Start() => _loop = Task.Run(() => PollLoopAsync(_stop.Token));

    /// <summary>How long queries stay frequent after a lost connection (<see cref="RequestRecheck"/>).</summary>
    internal static readonly TimeSpan BurstWindow = TimeSpan.FromSeconds(15);

    /// <summary>The longest pause between queries within the burst window.</summary>
    internal static readonly TimeSpan BurstInterval = TimeSpan.FromSeconds(1);

    private long _burstUntil;

    /// <summary>
    /// Asks for an early query (coalesced: at most one pending), then frequent ones (every second at most) for
    /// <see cref="BurstWindow"/>: after a lost connection the replacement may appear in lookupd only later (in NsqSharp's
    /// cluster mode a new partition leader a few seconds after the old one died), and waiting for the next regular
    /// poll (a minute by default) would leave the consumer without it that long.
    /// </summary>
    public void RequestRecheck()
    {
        lock (_gate)
        {
            _burstUntil = Environment.TickCount64 + (long)BurstWindow.TotalMilliseconds;
            if (_recheck.CurrentCount == 0)
            {
                _recheck.Release();
            }
        }
    }

    private TimeSpan NextPollDelay()
    {
        lock (_gate)
        {
            var left = _burstUntil - Environment.TickCount64;
            return left > 0 && BurstInterval < _config.LookupdPollInterval ? BurstInterval : _config.LookupdPollInterval;
        }
    }

    /// <summary>One discovery round: query the next lookupd (trying up to 3), then hand the producers over.</summary>
    public async Task QueryAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var endpoint = NextEndpoint();
            if (endpoint == null)
            {
                return;
            }

            IReadOnlyList<string> producers;
            try
            {
                producers = await LookupAsync(endpoint, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or NsqException or TaskCanceledException or IOException &&
                                      !cancellationToken.IsCancellationRequested)
            {
                Log.LookupdQueryFailed(_logger, endpoint.ToString(), e);
                continue;
            }

            await _onProducers(producers, cancellationToken).ConfigureAwait(false);
            return;
        }
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _http.Dispose();
        _stop.Dispose();
        _recheck.Dispose();
    }

    private async Task PollLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // jitter so consumers restarted together don't all poll (and connect) at once
            // (a recheck cuts the jitter short: a lost connection must not wait for it)
            var jitter = TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * _config.LookupdPollJitter * _config.LookupdPollInterval.Ticks));
            var woken = await _recheck.WaitAsync(jitter, cancellationToken).ConfigureAwait(false);
            while (true)
            {
                if (!woken)
                {
                    woken = await _recheck.WaitAsync(NextPollDelay(), cancellationToken).ConfigureAwait(false);
                }

                woken = false;
                await QueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private Uri? NextEndpoint()
    {
        lock (_gate)
        {
            if (_endpoints.Count == 0)
            {
                return null;
            }

            _next %= _endpoints.Count;
            return _endpoints[_next++];
        }
    }

    private Task<IReadOnlyList<string>> LookupAsync(Uri endpoint, CancellationToken cancellationToken) =>
        LookupdQuery.ProducersAsync(_http, _config, endpoint, _logger, cancellationToken);
}
