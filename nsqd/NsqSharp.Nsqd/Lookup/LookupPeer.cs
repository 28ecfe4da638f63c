using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>
/// Keeps this nsqd registered with one nsqlookupd: connect, IDENTIFY, REGISTER everything the
/// broker has, then send queued REGISTER/UNREGISTER and a PING every interval; on any failure
/// reconnect with backoff and start over (the lookupd forgot us when the connection dropped).
/// Callers only enqueue; all I/O happens on this peer's own loop.
/// </summary>
internal sealed class LookupPeer : IAsyncDisposable
{
    private readonly NodeIdentity _self;
    private readonly Func<IReadOnlyList<(string Topic, string? Channel)>> _snapshot;
    private readonly LookupRegistrarOptions _options;
    private readonly ILogger _logger;
    private readonly object _queueGate = new();
    private readonly Queue<LookupCommand> _queue = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private bool _resyncRequested;
    private volatile bool _connected;
    private volatile LookupdInfo? _info;

    public LookupPeer(string address, NodeIdentity self, Func<IReadOnlyList<(string Topic, string? Channel)>> snapshot,
        LookupRegistrarOptions options, ILogger logger)
    {
        Address = address;
        _self = self;
        _snapshot = snapshot;
        _options = options;
        _logger = logger;
    }

    public string Address { get; }

    public bool Connected => _connected;

    /// <summary>The lookupd's own description from the last IDENTIFY; kept across reconnects, as upstream.</summary>
    public LookupdInfo? Info => _info;

    public void Start()
    {
        if (_loop.IsCompleted && !_stop.IsCancellationRequested)
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Queues a command without blocking. On overflow the queue is dropped and a full re-registration forced.</summary>
    public void Enqueue(LookupCommand command)
    {
        lock (_queueGate)
        {
            if (_queue.Count >= _options.MaxQueuedCommands)
            {
                _queue.Clear();
                _resyncRequested = true;
            }
            else
            {
                _queue.Enqueue(command);
            }

            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
    }

    public LookupPeerStatus Status => new(Address, _connected) { HttpAddress = _info?.HttpAddress };

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        var delay = _options.ReconnectDelayMin;
        while (!ct.IsCancellationRequested)
        {
            var registered = false;
            try
            {
                _logger.LogInformation("LOOKUP connecting to {Address}", Address);
                await using var connection = await LookupConnection.ConnectAsync(Address, _options, ct).ConfigureAwait(false);
                var info = await connection.IdentifyAsync(_self, ct).ConfigureAwait(false);
                _info = info;

                // Connected means identified (LookupPeerStatus): set before registering, so anyone who
                // sees our registrations at lookupd also sees us connected.
                _connected = true;
                _logger.LogInformation("LOOKUPD({Address}): peer info {Info}", Address, info);
                if (info.BroadcastAddress.Length == 0)
                {
                    _logger.LogError("LOOKUPD({Address}): no broadcast address", Address);
                }

                lock (_queueGate)
                {
                    _resyncRequested = false;
                }

                await RegisterAllAsync(connection, ct).ConfigureAwait(false);
                registered = true;
                delay = _options.ReconnectDelayMin;
                await ServeAsync(connection, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Any failure means the lookupd may have dropped us: reconnect and re-register.
                _logger.LogError("LOOKUPD({Address}): {Error}", Address, e.Message);
            }
            finally
            {
                _connected = false;
            }

            if (ct.IsCancellationRequested)
            {
                break;
            }

            if (registered && ResyncRequested())
            {
                continue; // queue overflowed while connected: re-register at once
            }

            try
            {
                await Task.Delay(Jitter(delay), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = delay * 2 > _options.ReconnectDelayMax ? _options.ReconnectDelayMax : delay * 2;
        }

        _logger.LogInformation("LOOKUPD({Address}): closing", Address);
    }

    private async Task RegisterAllAsync(LookupConnection connection, CancellationToken ct)
    {
        foreach (var (topic, channel) in _snapshot())
        {
            if (!NsqNames.IsValidTopicName(topic) || (!string.IsNullOrEmpty(channel) && !NsqNames.IsValidChannelName(channel)))
            {
                continue; // lookupd would close the connection on it, and we would loop forever
            }

            var command = LookupCommand.Register(topic, channel);
            _logger.LogInformation("LOOKUPD({Address}): {Command}", Address, command);
            await connection.CommandAsync(command, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Sends queued commands as they come and a PING every interval, until something fails.</summary>
    private async Task ServeAsync(LookupConnection connection, CancellationToken ct)
    {
        var nextPing = DateTime.UtcNow + _options.PingInterval;
        while (true)
        {
            LookupCommand command;
            bool haveCommand;
            lock (_queueGate)
            {
                if (_resyncRequested)
                {
                    throw new InvalidOperationException("command queue overflowed; re-registering");
                }

                haveCommand = _queue.TryDequeue(out command);
            }

            if (haveCommand)
            {
                _logger.LogInformation("LOOKUPD({Address}): {Command}", Address, command);
                await connection.CommandAsync(command, ct).ConfigureAwait(false);
                continue;
            }

            var untilPing = nextPing - DateTime.UtcNow;
            if (untilPing <= TimeSpan.Zero)
            {
                _logger.LogDebug("LOOKUPD({Address}): sending heartbeat", Address);
                await connection.CommandAsync(LookupCommand.Ping, ct).ConfigureAwait(false);
                nextPing = DateTime.UtcNow + _options.PingInterval;
                continue;
            }

            // Wait for a command, the PING time, or the lookupd going away, whichever is first.
            using var waitCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var woken = _wake.WaitAsync(untilPing, waitCancel.Token);
            if (await Task.WhenAny(woken, connection.IdleEnded).ConfigureAwait(false) != woken)
            {
                await waitCancel.CancelAsync().ConfigureAwait(false);
                throw new IOException("lookupd closed the connection");
            }

            await woken.ConfigureAwait(false);
        }
    }

    private bool ResyncRequested()
    {
        lock (_queueGate)
        {
            return _resyncRequested;
        }
    }

    private static TimeSpan Jitter(TimeSpan delay) =>
        TimeSpan.FromTicks((long)(delay.Ticks * (0.8 + Random.Shared.NextDouble() * 0.4)));

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        // _stop and _wake stay undisposed: a late Enqueue from the broker must never throw.
    }
}
