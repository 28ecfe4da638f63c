using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Client.Publishing;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client;

/// <summary>
/// Publishes to one nsqd over one TCP connection. Commands are pipelined: any number of concurrent
/// <see cref="PublishAsync(string, ReadOnlyMemory{byte}, CancellationToken)"/> calls share the connection and
/// each completes when nsqd answers its command (answers come back in order). Connects lazily and
/// reconnects on the next publish after the connection is lost; heartbeats are answered automatically.
/// Thread-safe.
/// </summary>
/// <remarks>
/// A publish that fails with <see cref="NsqConnectionException"/> may or may not have been stored by nsqd.
/// Cancelling a publish stops the wait; once handed to the connection the command is still sent.
/// </remarks>
public sealed partial class Producer : IAsyncDisposable
{
    private readonly NsqConfig _config;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private volatile ProducerSession? _session;
    private volatile bool _stopped;

    /// <summary>Creates a producer for one nsqd TCP address (<c>host:port</c>). Nothing is dialed until the first
    /// publish or <see cref="ConnectAsync"/>.</summary>
    /// <exception cref="ArgumentException">Bad address or config.</exception>
    public Producer(string nsqdAddress, NsqConfig? config = null, ILogger? logger = null)
    {
        NsqAddress.Parse(nsqdAddress);
        var copy = (config ?? new NsqConfig()).Clone();
        copy.Validate();
        Address = nsqdAddress;
        _config = copy;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The nsqd TCP address this producer publishes to.</summary>
    public string Address { get; }

    /// <summary>True while a connection is open.</summary>
    public bool IsConnected => _session?.IsOpen == true;

    /// <summary>What nsqd negotiated on the current connection; null before the first connect.</summary>
    public IdentifyResponse? ServerInfo => _session is { } s && s.IsOpen ? s.Connection.Identify : null;

    /// <summary>Connects now (otherwise the first publish does). No-op when connected.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Connects if needed and sends NOP (go-nsq's <c>Ping</c>): verifies nsqd is reachable.</summary>
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_stopped, this);
        var session = await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        if (!session.Connection.SendNop())
        {
            throw new NsqConnectionException($"connection to nsqd {Address} closed");
        }
    }

    /// <summary>Publishes one message (PUB) and completes when nsqd acknowledged it.</summary>
    /// <exception cref="ArgumentException">Invalid topic name or empty body.</exception>
    /// <exception cref="NsqServerException">nsqd refused it (e.g. <c>E_BAD_MESSAGE</c>, <c>E_PUB_FAILED</c>).</exception>
    /// <exception cref="NsqConnectionException">The connection failed before nsqd answered.</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        ValidateTopic(topic);
        ValidateBody(body.Length);
        return SendAsync((topic, body), CommandWriter.PubLength(topic, body.Length),
            static (w, s) => CommandWriter.WritePub(w, s.topic, s.body.Span), cancellationToken);
    }

    /// <summary>Publishes a UTF-8 string (PUB).</summary>
    public ValueTask PublishAsync(string topic, string body, CancellationToken cancellationToken = default) =>
        PublishAsync(topic, Encoding.UTF8.GetBytes(body ?? throw new ArgumentNullException(nameof(body))), cancellationToken);

    /// <summary>Publishes with extension options (partitions). With default options this is a plain PUB.</summary>
    /// <exception cref="NotSupportedException">An extension option is set but no server offers it yet.</exception>
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> body, PublishOptions options,
        CancellationToken cancellationToken = default)
    {
        if (options.UsesExtensions)
        {
            throw new NotSupportedException(
                "partition-aware publish needs an nsqd that offers partitions (NsqSharp extension, docs/PROTOCOL.md); none is negotiated yet");
        }

        return PublishAsync(topic, body, cancellationToken);
    }

    /// <summary>Publishes several messages atomically in one MPUB: all are stored or none.</summary>
    /// <exception cref="ArgumentException">Invalid topic, no bodies, or an empty body.</exception>
    public ValueTask MultiPublishAsync(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies,
        CancellationToken cancellationToken = default)
    {
        ValidateTopic(topic);
        ArgumentNullException.ThrowIfNull(bodies);
        if (bodies.Count == 0)
        {
            throw new ArgumentException("MPUB needs at least one message", nameof(bodies));
        }

        for (var i = 0; i < bodies.Count; i++)
        {
            ValidateBody(bodies[i].Length);
        }

        var size = CommandWriter.MpubLength(topic, bodies);
        if (size > int.MaxValue)
        {
            throw new ArgumentException("MPUB body exceeds 2 GiB", nameof(bodies));
        }

        return SendAsync((topic, bodies), size, static (w, s) => CommandWriter.WriteMpub(w, s.topic, s.bodies), cancellationToken);
    }

    /// <summary>Publishes several byte arrays atomically in one MPUB.</summary>
    public ValueTask MultiPublishAsync(string topic, IEnumerable<byte[]> bodies, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        var list = new List<ReadOnlyMemory<byte>>();
        foreach (var body in bodies)
        {
            list.Add(body ?? throw new ArgumentException("null message body", nameof(bodies)));
        }

        return MultiPublishAsync(topic, list, cancellationToken);
    }

    /// <summary>Publishes a message that nsqd delivers only after <paramref name="delay"/> (DPUB).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative delay. nsqd also rejects delays above its
    /// <c>--max-req-timeout</c> (default 1h) with a fatal <c>E_INVALID</c>.</exception>
    public ValueTask DeferredPublishAsync(string topic, TimeSpan delay, ReadOnlyMemory<byte> body,
        CancellationToken cancellationToken = default)
    {
        ValidateTopic(topic);
        ValidateBody(body.Length);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        var ms = (long)delay.TotalMilliseconds;
        return SendAsync((topic, ms, body), CommandWriter.DpubMaxLength(topic, body.Length),
            static (w, s) => CommandWriter.WriteDpub(w, s.topic, s.ms, s.body.Span), cancellationToken);
    }

    /// <summary>Stops for good: waits (until <paramref name="cancellationToken"/>) for outstanding commands to be
    /// answered, then closes the connection. Later publishes throw <see cref="ObjectDisposedException"/>.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        Task backlog;
        lock (_sendGate)
        {
            _stopped = true;
            backlog = _drainer;
        }

        try
        {
            await backlog.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            FailBacklog(new NsqConnectionException("producer stopped before the message was sent"));
            _session?.Connection.Abort(null);
            throw;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var session = _session;
        _connectLock.Release();
        if (session == null)
        {
            return;
        }

        try
        {
            await session.WhenDrainedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            await session.Connection.CloseAsync(_config.WriteTimeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await session.Connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops, waiting at most <c>read_timeout</c> for outstanding answers.</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(_config.ReadTimeout);
        try
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void ValidateTopic(string topic)
    {
        if (!NsqNames.IsValidTopicName(topic))
        {
            throw new ArgumentException($"invalid topic name '{topic}' (1-64 chars of [.a-zA-Z0-9_-], optional #ephemeral)", nameof(topic));
        }
    }

    private static void ValidateBody(int length)
    {
        if (length == 0)
        {
            throw new ArgumentException("message body must not be empty (nsqd rejects it and closes the connection)", "body");
        }
    }
}
