using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Client.Connection;
using NsqSharp.Client.Consuming;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client;

/// <summary>
/// Consumes a topic/channel from one or more nsqd, found directly (<see cref="ConnectToNsqdAsync"/>) or through
/// nsqlookupd (<see cref="ConnectToNsqLookupdAsync"/>). Flow control follows go-nsq: <c>max_in_flight</c> is
/// spread over the connections as RDY counts, failures trigger backoff, messages over <c>max_attempts</c> go
/// to a hook and are finished. Consume either with handlers (<see cref="AddHandler(IMessageHandler, int)"/>,
/// run concurrently; FIN on success, REQ on exception) or as a stream (<see cref="ReadAllAsync"/>).
/// <see cref="StopAsync"/> stops gracefully: CLS to every nsqd, then in-flight work is drained.
/// </summary>
public sealed class Consumer : IAsyncDisposable, IConsumerConnectionOwner
{
    private static readonly TimeSpan DefaultStopTimeout = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    private readonly NsqConfig _config;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RdyController _rdy;
    private readonly Channel<Message> _messages;
    private readonly Dictionary<string, ConsumerConnection> _connections = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directAddresses = new(StringComparer.Ordinal);
    private readonly List<Task> _workers = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _handlerCancellation = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LookupdPoller _lookupd;
    private TaskCompletionSource? _allClosed;
    private long _received;
    private long _finished;
    private long _requeued;
    private int _handlerCount;
    private int _streamReaders;
    private bool _connected;
    private bool _stopped;

    /// <summary>Creates a consumer of <paramref name="topic"/>/<paramref name="channel"/>.</summary>
    /// <exception cref="ArgumentException">Invalid topic or channel name, or invalid config.</exception>
    public Consumer(string topic, string channel, NsqConfig? config = null, ILogger? logger = null)
        : this(topic, channel, config, logger, TimeProvider.System, null)
    {
    }

    internal Consumer(string topic, string channel, NsqConfig? config, ILogger? logger, TimeProvider time,
        HttpMessageHandler? lookupdHttpHandler)
    {
        if (!NsqNames.IsValidTopicName(topic))
        {
            throw new ArgumentException($"invalid topic name '{topic}'", nameof(topic));
        }

        if (!NsqNames.IsValidChannelName(channel))
        {
            throw new ArgumentException($"invalid channel name '{channel}'", nameof(channel));
        }

        var copy = (config ?? new NsqConfig()).Clone();
        copy.Validate();
        Topic = topic;
        Channel = channel;
        _config = copy;
        _logger = logger ?? NullLogger.Instance;
        _time = time;
        _rdy = new RdyController(copy, time, new Random(), _logger);
        _rdy.Start();
        // RDY bounds what nsqd sends, so this bound is only reached if max_in_flight is raised past it later;
        // then the read loop waits (backpressure) rather than buffering without limit.
        _messages = System.Threading.Channels.Channel.CreateBounded<Message>(new BoundedChannelOptions(Math.Max(copy.MaxInFlight, 2500))
        {
            FullMode = BoundedChannelFullMode.Wait,
        });
        _lookupd = new LookupdPoller(topic, copy, _logger, lookupdHttpHandler, OnProducersDiscoveredAsync);
    }

    /// <summary>The topic consumed.</summary>
    public string Topic { get; }

    /// <summary>The channel consumed.</summary>
    public string Channel { get; }

    /// <summary>Options for NsqSharp server extensions (ordered consumption, start position). Must be set before
    /// connecting; non-default values are rejected until a server offers them.</summary>
    public SubscribeOptions SubscribeOptions { get; init; } = new();

    /// <summary>Called for a message delivered more than <c>max_attempts</c> times (after which it is finished).
    /// A handler implementing <see cref="IFailedMessageHandler"/> is called as well.</summary>
    public Func<Message, CancellationToken, Task>? OnMaxAttemptsExceeded { get; set; }

    /// <summary>Filters the nsqd addresses discovered through lookupd before connecting (go-nsq's DiscoveryFilter).</summary>
    public Func<IReadOnlyList<string>, IReadOnlyList<string>>? DiscoveryFilter { get; set; }

    /// <summary>Completes when the consumer has fully stopped (go-nsq's <c>StopChan</c>).</summary>
    public Task Completion => _completion.Task;

    /// <summary>True when some connection is holding in-flight messages near its RDY count (go-nsq <c>IsStarved</c>).</summary>
    public bool IsStarved => _rdy.IsStarved();

    /// <summary>The current max_in_flight.</summary>
    public int MaxInFlight => _rdy.MaxInFlight;

    /// <summary>Adds a handler run on <paramref name="concurrency"/> concurrent workers. Call before connecting.</summary>
    /// <exception cref="InvalidOperationException">Already connected, or <see cref="ReadAllAsync"/> is in use.</exception>
    public void AddHandler(IMessageHandler handler, int concurrency = 1)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        lock (_gate)
        {
            if (_connected)
            {
                throw new InvalidOperationException("handlers must be added before connecting");
            }

            if (_streamReaders > 0)
            {
                throw new InvalidOperationException("the consumer is being read with ReadAllAsync");
            }

            _handlerCount += concurrency;
            for (var i = 0; i < concurrency; i++)
            {
                _workers.Add(Task.Run(() => HandlerLoopAsync(handler)));
            }
        }
    }

    /// <summary>Adds a delegate handler; see <see cref="AddHandler(IMessageHandler, int)"/>.</summary>
    public void AddHandler(Func<Message, CancellationToken, Task> handler, int concurrency = 1) =>
        AddHandler(new DelegateMessageHandler(handler ?? throw new ArgumentNullException(nameof(handler))), concurrency);

    /// <summary>
    /// Streams messages: <c>await foreach (var m in consumer.ReadAllAsync(ct))</c>. Each message is finished when
    /// the loop asks for the next one (unless you responded or disabled auto response); if the loop ends early
    /// (break, exception, cancellation) the current unanswered message is requeued without backoff. Cannot be
    /// combined with handlers. Ends when the consumer stops.
    /// </summary>
    public async IAsyncEnumerable<Message> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_handlerCount > 0)
            {
                throw new InvalidOperationException("ReadAllAsync cannot be used on a consumer with handlers");
            }

            _streamReaders++;
        }

        Message? current = null;
        try
        {
            var reader = _messages.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    if (ExceededMaxAttempts(message))
                    {
                        await FailMessageAsync(message, null).ConfigureAwait(false);
                        continue;
                    }

                    current = message;
                    yield return message;
                    if (!message.IsAutoResponseDisabled)
                    {
                        message.Finish();
                    }

                    current = null;
                }
            }
        }
        finally
        {
            if (current is { HasResponded: false, IsAutoResponseDisabled: false })
            {
                current.RequeueWithoutBackoff(TimeSpan.Zero);
            }

            lock (_gate)
            {
                _streamReaders--;
            }
        }
    }

    /// <summary>Connects to one nsqd TCP address and subscribes. If the connection is later lost and no lookupd is
    /// configured, it is retried every <c>lookupd_poll_interval</c>. Connecting twice to an address is a no-op.</summary>
    /// <exception cref="NsqException">The connection or subscription failed.</exception>
    public Task ConnectToNsqdAsync(string address, CancellationToken cancellationToken = default)
    {
        NsqAddress.Parse(address);
        lock (_gate)
        {
            _directAddresses.Add(address);
        }

        return ConnectAsync(address, cancellationToken);
    }

    /// <summary>Connects to several nsqd addresses (stops at the first failure).</summary>
    public async Task ConnectToNsqdsAsync(IEnumerable<string> addresses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        foreach (var address in addresses)
        {
            await ConnectToNsqdAsync(address, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Adds an nsqlookupd HTTP address (<c>host:port</c> or URL). The first one is queried at once, then
    /// all are polled round-robin every <c>lookupd_poll_interval</c>; every nsqd that has the topic is connected.</summary>
    public async Task ConnectToNsqLookupdAsync(string address, CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        CheckSubscribeOptions();
        MarkConnected();
        if (_lookupd.Add(address))
        {
            await _lookupd.QueryAsync(cancellationToken).ConfigureAwait(false);
            _lookupd.Start();
        }
    }

    /// <summary>Adds several nsqlookupd addresses.</summary>
    public async Task ConnectToNsqLookupdsAsync(IEnumerable<string> addresses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        foreach (var address in addresses)
        {
            await ConnectToNsqLookupdAsync(address, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the connection to an nsqd (cleanly: CLS, drain) and stops reconnecting to it.</summary>
    /// <returns>False when not connected to that address.</returns>
    public bool DisconnectFromNsqd(string address)
    {
        ConsumerConnection? connection;
        bool known;
        lock (_gate)
        {
            known = _directAddresses.Remove(address);
            _connections.TryGetValue(address, out connection);
        }

        connection?.BeginClose();
        return known || connection != null;
    }

    /// <summary>Removes an nsqlookupd from discovery (not the last one).</summary>
    /// <exception cref="InvalidOperationException">It is the only lookupd.</exception>
    public bool DisconnectFromNsqLookupd(string address) => _lookupd.Remove(address);

    /// <summary>Changes max_in_flight and updates RDY on every connection; 0 pauses the flow.</summary>
    public void ChangeMaxInFlight(int maxInFlight) => _rdy.ChangeMaxInFlight(maxInFlight);

    /// <summary>Current counters.</summary>
    public ConsumerStats GetStats()
    {
        int connections;
        lock (_gate)
        {
            connections = _connections.Count;
        }

        return new ConsumerStats(Interlocked.Read(ref _received), Interlocked.Read(ref _finished),
            Interlocked.Read(ref _requeued), connections);
    }

    /// <summary>
    /// Stops gracefully: no new connections or discovery, CLS to every nsqd, waits until every in-flight message
    /// has been handled and answered and the connections are closed, then ends handlers and streams.
    /// If <paramref name="cancellationToken"/> fires first, handlers are cancelled, buffered messages are
    /// requeued and connections are closed at once.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        ConsumerConnection[] open;
        Task allClosed;
        lock (_gate)
        {
            if (_stopped)
            {
                // a second stop (e.g. StopAsync then DisposeAsync) just waits for the first
                allClosed = Completion;
                open = [];
            }
            else
            {
                _stopped = true;
                _stopping.Cancel();
                open = [.. _connections.Values];
                _allClosed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_connections.Count == 0 && _pending.Count == 0)
                {
                    _allClosed.TrySetResult();
                }

                allClosed = _allClosed.Task;
            }
        }

        if (ReferenceEquals(allClosed, Completion))
        {
            try
            {
                await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await ForceStopAsync().ConfigureAwait(false);
                throw;
            }

            return;
        }

        _lookupd.Dispose();
        foreach (var connection in open)
        {
            connection.BeginClose();
        }

        try
        {
            await allClosed.WaitAsync(cancellationToken).ConfigureAwait(false);
            _messages.Writer.TryComplete();
            await Task.WhenAll(WorkersSnapshot()).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await ForceStopAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (allClosed.IsCompleted)
            {
                Finish();
            }
        }
    }

    /// <summary>Stops gracefully, waiting at most 30 s for in-flight work (go-nsq's stop timeout).</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(DefaultStopTimeout);
        try
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    ILogger IConsumerConnectionOwner.Logger => _logger;

    TimeSpan IConsumerConnectionOwner.WriteTimeout => _config.WriteTimeout;

    TimeSpan IConsumerConnectionOwner.DefaultRequeueDelay(int attempts)
    {
        var delay = _config.DefaultRequeueDelay * attempts;
        return delay > _config.MaxRequeueDelay ? _config.MaxRequeueDelay : delay;
    }

    ValueTask IConsumerConnectionOwner.OnMessageAsync(ConsumerConnection connection, Message message)
    {
        Interlocked.Increment(ref _received);
        return _messages.Writer.TryWrite(message) ? ValueTask.CompletedTask : WriteSlowAsync(message);
    }

    void IConsumerConnectionOwner.OnFinished(ConsumerConnection connection)
    {
        Interlocked.Increment(ref _finished);
        _rdy.OnSuccess();
    }

    void IConsumerConnectionOwner.OnRequeued(ConsumerConnection connection, bool backoff)
    {
        Interlocked.Increment(ref _requeued);
        _rdy.OnRequeue(backoff);
    }

    void IConsumerConnectionOwner.OnConnectionClosed(ConsumerConnection connection, Exception? reason)
    {
        _rdy.RemoveConnection(connection);
        bool reconnect;
        lock (_gate)
        {
            if (_connections.TryGetValue(connection.Address, out var registered) && ReferenceEquals(registered, connection))
            {
                _connections.Remove(connection.Address);
            }

            if (_stopped)
            {
                if (_connections.Count == 0 && _pending.Count == 0)
                {
                    _allClosed?.TrySetResult();
                }

                return;
            }

            reconnect = _directAddresses.Contains(connection.Address);
        }

        if (reason != null)
        {
            Log.ConnectionLost(_logger, connection.Address, reason);
        }

        if (_lookupd.Count > 0)
        {
            _lookupd.RequestRecheck();
        }
        else if (reconnect)
        {
            _ = ReconnectLoopAsync(connection.Address);
        }
    }

    private async ValueTask WriteSlowAsync(Message message)
    {
        try
        {
            await _messages.Writer.WriteAsync(message, _handlerCancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            message.RequeueWithoutBackoff(TimeSpan.Zero);
        }
    }

    private async Task ConnectAsync(string address, CancellationToken cancellationToken)
    {
        ThrowIfStopped();
        CheckSubscribeOptions();
        lock (_gate)
        {
            if (_connections.ContainsKey(address) || !_pending.Add(address))
            {
                return;
            }

            _connected = true;
        }

        var consumerConnection = new ConsumerConnection(address, this, _time);
        NsqConnection connection;
        try
        {
            connection = await NsqConnection.ConnectAsync(address, _config, consumerConnection, _logger,
                new SubscribeRequest(Topic, Channel), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
            {
                _pending.Remove(address);
                if (_stopped && _connections.Count == 0 && _pending.Count == 0)
                {
                    _allClosed?.TrySetResult();
                }
            }

            throw;
        }

        consumerConnection.Attach(connection);
        if (connection.Identify.MaxRdyCount < _rdy.MaxInFlight)
        {
            Log.MaxRdyBelowMaxInFlight(_logger, address, connection.Identify.MaxRdyCount, _rdy.MaxInFlight);
        }

        bool stopped;
        lock (_gate)
        {
            _pending.Remove(address);
            stopped = _stopped;
            if (!stopped)
            {
                _connections[address] = consumerConnection;
            }
        }

        Log.Connected(_logger, address, connection.Identify.Version, connection.Identify.MaxRdyCount);
        if (stopped)
        {
            await connection.CloseAsync(_config.WriteTimeout).ConfigureAwait(false);
            return;
        }

        _rdy.AddConnection(consumerConnection);
        if (!connection.IsOpen)
        {
            // it died while being registered; OnClosed may have run before registration
            ((IConsumerConnectionOwner)this).OnConnectionClosed(consumerConnection, null);
        }
    }

    private async Task OnProducersDiscoveredAsync(IReadOnlyList<string> producers, CancellationToken cancellationToken)
    {
        var filtered = DiscoveryFilter?.Invoke(producers) ?? producers;
        foreach (var address in filtered)
        {
            try
            {
                await ConnectAsync(address, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NsqException or ArgumentException or ObjectDisposedException)
            {
                Log.ConnectFailed(_logger, address, e);
            }
        }
    }

    private async Task ReconnectLoopAsync(string address)
    {
        var token = _stopping.Token;
        try
        {
            while (true)
            {
                Log.Reconnecting(_logger, address, _config.LookupdPollInterval);
                await Task.Delay(_config.LookupdPollInterval, _time, token).ConfigureAwait(false);
                lock (_gate)
                {
                    if (!_directAddresses.Contains(address))
                    {
                        return;
                    }
                }

                try
                {
                    await ConnectAsync(address, token).ConfigureAwait(false);
                    return;
                }
                catch (NsqException e)
                {
                    Log.ConnectFailed(_logger, address, e);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async Task HandlerLoopAsync(IMessageHandler handler)
    {
        var token = _handlerCancellation.Token;
        var reader = _messages.Reader;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    await HandleOneAsync(handler, message, token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private async Task HandleOneAsync(IMessageHandler handler, Message message, CancellationToken token)
    {
        if (ExceededMaxAttempts(message))
        {
            await FailMessageAsync(message, handler as IFailedMessageHandler).ConfigureAwait(false);
            return;
        }

        try
        {
            await handler.HandleMessageAsync(message, token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, message.Id, e);
            if (!message.IsAutoResponseDisabled)
            {
                if (e is OperationCanceledException && token.IsCancellationRequested)
                {
                    message.RequeueWithoutBackoff(TimeSpan.Zero);
                }
                else
                {
                    message.Requeue();
                }
            }

            return;
        }

        if (!message.IsAutoResponseDisabled)
        {
            message.Finish();
        }
    }

    private bool ExceededMaxAttempts(Message message) => _config.MaxAttempts > 0 && message.Attempts > _config.MaxAttempts;

    private async Task FailMessageAsync(Message message, IFailedMessageHandler? failedHandler)
    {
        Log.MaxAttemptsExceeded(_logger, message.Id, message.Attempts);
        try
        {
            if (failedHandler != null)
            {
                await failedHandler.OnMessageFailedAsync(message, _handlerCancellation.Token).ConfigureAwait(false);
            }

            if (OnMaxAttemptsExceeded is { } hook)
            {
                await hook(message, _handlerCancellation.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.FailedHookThrew(_logger, message.Id, e);
        }

        message.Finish();
    }

    private async Task ForceStopAsync()
    {
        await _handlerCancellation.CancelAsync().ConfigureAwait(false);
        _messages.Writer.TryComplete();
        while (_messages.Reader.TryRead(out var message))
        {
            // hand buffered, unstarted work back to nsqd before the connections go
            message.RequeueWithoutBackoff(TimeSpan.Zero);
        }

        try
        {
            // cancelled handlers get a moment to requeue their messages before the sockets close
            await Task.WhenAll(WorkersSnapshot()).WaitAsync(_config.WriteTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        ConsumerConnection[] open;
        lock (_gate)
        {
            open = [.. _connections.Values];
        }

        if (open.Length > 0)
        {
            Log.StopTimedOut(_logger, open.Length);
        }

        var closing = new Task[open.Length];
        for (var i = 0; i < open.Length; i++)
        {
            closing[i] = open[i].Connection.CloseAsync(_config.WriteTimeout);
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
        Finish();
    }

    private void Finish()
    {
        _rdy.Dispose();
        _completion.TrySetResult();
    }

    private Task[] WorkersSnapshot()
    {
        lock (_gate)
        {
            return [.. _workers];
        }
    }

    private void MarkConnected()
    {
        lock (_gate)
        {
            _connected = true;
        }
    }

    private void CheckSubscribeOptions()
    {
        if (SubscribeOptions.UsesExtensions)
        {
            throw new NotSupportedException(
                "ordered consumption and start positions need an nsqd that offers them (NsqSharp extension, docs/PROTOCOL.md); none is negotiated yet");
        }
    }

    private void ThrowIfStopped()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
        }
    }
}
