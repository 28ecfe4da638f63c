using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Connection;

/// <summary>
/// One TCP protocol V2 connection to nsqd: setup, a read loop that parses frames from a
/// <see cref="PipeReader"/>, a send loop that drains the <see cref="OutboundBuffer"/>, heartbeat replies,
/// and read/write deadlines (<c>read_timeout</c>, <c>write_timeout</c>).
/// </summary>
internal sealed class NsqConnection : IAsyncDisposable
{
    // Large enough for a burst of pipelined publishes, small enough to bound memory per connection.
    internal const int OutboundLimit = 4 * 1024 * 1024;

    private const int Open = 0;
    private const int Closing = 1;
    private const int Closed = 2;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly OutboundBuffer _outbound = new(OutboundLimit);
    private readonly IConnectionEvents _events;
    private readonly ILogger _logger;
    private readonly int _maxFrameSize;
    private readonly TimeSpan _writeTimeout;
    private readonly long _readTimeoutMs;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly CancellationTokenSource _writeDeadline = new();
    private readonly TaskCompletionSource _closedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Timer? _watchdog;
    private Task _readLoop = Task.CompletedTask;
    private Task _sendLoop = Task.CompletedTask;
    private long _lastReceiveTicks;
    private int _state;

    private NsqConnection(string address, Socket socket, HandshakeResult handshake, NsqConfig config,
        IConnectionEvents events, ILogger logger)
    {
        Address = address;
        _socket = socket;
        _stream = handshake.Stream;
        Identify = handshake.Identify;
        Auth = handshake.Auth;
        _events = events;
        _logger = logger;
        _maxFrameSize = config.MaxFrameSize;
        _writeTimeout = config.WriteTimeout;
        _readTimeoutMs = (long)config.ReadTimeout.TotalMilliseconds;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 4096, leaveOpen: true));
    }

    /// <summary>The <c>host:port</c> this connection was opened to.</summary>
    public string Address { get; }

    public IdentifyResponse Identify { get; }

    public AuthResponse? Auth { get; }

    /// <summary>Completes when the connection is fully closed (after <see cref="IConnectionEvents.OnClosed"/>).</summary>
    public Task Completion => _closedSignal.Task;

    public bool IsOpen => Volatile.Read(ref _state) == Open;

    /// <summary>Dials, negotiates, optionally subscribes, and starts the loops.</summary>
    public static async Task<NsqConnection> ConnectAsync(string address, NsqConfig config, IConnectionEvents events,
        ILogger logger, SubscribeRequest? subscribe, CancellationToken cancellationToken)
    {
        var target = NsqAddress.Parse(address);
        Socket socket;
        if (config.LocalAddress != null && NsqAddress.TryParseLocal(config.LocalAddress, out var local))
        {
            socket = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(local);
        }
        else
        {
            socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        }

        socket.NoDelay = true;
        try
        {
            using (var dial = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                dial.CancelAfter(config.DialTimeout);
                try
                {
                    await socket.ConnectAsync(new DnsEndPoint(target.Host, target.Port), dial.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new NsqConnectionException($"dial {address} timed out after {config.DialTimeout} (dial_timeout)", e);
                }
                catch (SocketException e)
                {
                    throw new NsqConnectionException($"dial {address} failed: {e.Message}", e);
                }
            }

            var network = new NetworkStream(socket, ownsSocket: false);
            HandshakeResult handshake;
            using (var setup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                setup.CancelAfter(config.ReadTimeout);
                try
                {
                    handshake = await ConnectionHandshake.RunAsync(network, target.Host, config, subscribe, setup.Token)
                        .ConfigureAwait(false);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    await network.DisposeAsync().ConfigureAwait(false);
                    throw new NsqConnectionException($"connection setup with {address} timed out after {config.ReadTimeout} (read_timeout)", e);
                }
                catch (NsqServerException e)
                {
                    await network.DisposeAsync().ConfigureAwait(false);
                    throw new NsqServerException(e.ErrorText, address);
                }
                catch (Exception e) when (e is IOException or SocketException)
                {
                    await network.DisposeAsync().ConfigureAwait(false);
                    throw new NsqConnectionException($"connection setup with {address} failed: {e.Message}", e);
                }
                catch
                {
                    await network.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            var connection = new NsqConnection(address, socket, handshake, config, events, logger);
            connection.Start();
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Appends a command if it fits under the outbound limit (see <see cref="OutboundBuffer.TryWrite{TState}"/>).</summary>
    public bool TryWrite<TState>(TState state, long size, CommandEncoder<TState> encode) =>
        _outbound.TryWrite(state, size, encode);

    public ValueTask WaitForSpaceAsync(CancellationToken cancellationToken) => _outbound.WaitForSpaceAsync(cancellationToken);

    public bool SendRdy(long count) => SendControl(count, static (w, c) => CommandWriter.WriteRdy(w, c));

    public bool SendFin(NsqMessageId id) => SendControl(id, static (w, i) => CommandWriter.WriteFin(w, NsqMessageId.AsBytes(in i)));

    public bool SendReq(NsqMessageId id, long delayMilliseconds) =>
        SendControl((id, delayMilliseconds), static (w, s) => CommandWriter.WriteReq(w, NsqMessageId.AsBytes(in s.id), s.delayMilliseconds));

    public bool SendTouch(NsqMessageId id) => SendControl(id, static (w, i) => CommandWriter.WriteTouch(w, NsqMessageId.AsBytes(in i)));

    public bool SendNop() => SendControl(0, static (w, _) => CommandWriter.WriteNop(w));

    public bool SendCls() => SendControl(0, static (w, _) => CommandWriter.WriteCls(w));

    /// <summary>Sends what is buffered, then closes. Falls back to <see cref="Abort"/> after <paramref name="timeout"/>.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        if (Interlocked.CompareExchange(ref _state, Closing, Open) == Open)
        {
            _outbound.Complete(null);
        }

        if (Volatile.Read(ref _state) == Closing)
        {
            // every closer waits for the flush, not just the first (a second caller must not cut it short)
            try
            {
                await _sendLoop.WaitAsync(timeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        Abort(null);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Closes at once, dropping whatever is not yet sent. Idempotent.</summary>
    public void Abort(Exception? reason)
    {
        if (Interlocked.Exchange(ref _state, Closed) == Closed)
        {
            return;
        }

        _outbound.Complete(reason ?? new NsqConnectionException($"connection to {Address} closed"));
        _lifetime.Cancel();
        _watchdog?.Dispose();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        _ = FinishCloseAsync(reason);
    }

    public async ValueTask DisposeAsync()
    {
        Abort(null);
        await Completion.ConfigureAwait(false);
    }

    private bool SendControl<TState>(TState state, CommandEncoder<TState> encode)
    {
        try
        {
            return _outbound.TryWrite(state, 0, encode, ignoreLimit: true);
        }
        catch (NsqConnectionException)
        {
            return false; // closed: the server will time the message out and redeliver it
        }
    }

    private void Start()
    {
        _lastReceiveTicks = Environment.TickCount64;
        _sendLoop = Task.Run(SendLoopAsync);
        _readLoop = Task.Run(ReadLoopAsync);
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_readTimeoutMs / 4, 10, 1000));
        _watchdog = new Timer(static s => ((NsqConnection)s!).CheckReadDeadline(), this, period, period);
    }

    private void CheckReadDeadline()
    {
        var silent = Environment.TickCount64 - Volatile.Read(ref _lastReceiveTicks);
        if (silent > _readTimeoutMs)
        {
            Abort(new NsqConnectionException($"no data from nsqd {Address} for {silent} ms (read_timeout)"));
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(_lifetime.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (FrameReader.TryRead(ref buffer, _maxFrameSize, out var type, out var data))
                    {
                        Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
                        switch (type)
                        {
                            case FrameType.Response when IsHeartbeat(data):
                                SendNop();
                                break;
                            case FrameType.Response:
                                _events.OnResponse(this, data);
                                break;
                            case FrameType.Error:
                                _events.OnError(this, new NsqServerException(Encoding.UTF8.GetString(data), Address));
                                break;
                            default:
                                var pending = _events.OnMessageAsync(this, MessageDecoder.Decode(data));
                                if (!pending.IsCompletedSuccessfully)
                                {
                                    await pending.ConfigureAwait(false);
                                }

                                break;
                        }
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    failure = new NsqConnectionException($"nsqd {Address} closed the connection");
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (NsqException e)
        {
            failure = e;
        }
        catch (InvalidDataException e)
        {
            // A frame the codec rejects, or a corrupt snappy/deflate stream: either way nsqd broke the protocol.
            failure = new NsqProtocolException(e.Message, e);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            failure = new NsqConnectionException($"reading from nsqd {Address} failed: {e.Message}", e);
        }

        Abort(Volatile.Read(ref _state) == Open ? failure : null);
    }

    private async Task SendLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var batch = await _outbound.TakeBatchAsync().ConfigureAwait(false);
                if (batch.IsEmpty)
                {
                    return; // completed and drained
                }

                _writeDeadline.CancelAfter(_writeTimeout);
                await _stream.WriteAsync(batch, _writeDeadline.Token).ConfigureAwait(false);
                await _stream.FlushAsync(_writeDeadline.Token).ConfigureAwait(false);
                if (!_writeDeadline.TryReset())
                {
                    throw new OperationCanceledException(_writeDeadline.Token);
                }

                _outbound.BatchSent();
            }
        }
        catch (OperationCanceledException) when (_writeDeadline.IsCancellationRequested && !_lifetime.IsCancellationRequested)
        {
            failure = new NsqConnectionException($"write to nsqd {Address} timed out after {_writeTimeout} (write_timeout)");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            if (!_lifetime.IsCancellationRequested)
            {
                failure = new NsqConnectionException($"writing to nsqd {Address} failed: {e.Message}", e);
            }
        }

        if (failure != null)
        {
            Abort(failure);
        }
    }

    private async Task FinishCloseAsync(Exception? reason)
    {
        try
        {
            await Task.WhenAll(_readLoop, _sendLoop).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.LoopFaulted(_logger, Address, e);
        }

        await _reader.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
        }

        _outbound.Dispose();
        _writeDeadline.Dispose();
        try
        {
            _events.OnClosed(this, reason);
        }
        finally
        {
            _closedSignal.TrySetResult();
        }
    }

    private static bool IsHeartbeat(in ReadOnlySequence<byte> data) =>
        data.Length == ProtocolConstants.Heartbeat.Length && data.FirstSpan.Length == data.Length
            ? data.FirstSpan.SequenceEqual(ProtocolConstants.Heartbeat)
            : data.Length == ProtocolConstants.Heartbeat.Length && data.ToArray().AsSpan().SequenceEqual(ProtocolConstants.Heartbeat);
}
