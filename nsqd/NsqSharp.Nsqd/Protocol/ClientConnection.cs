using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Net;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// One TCP protocol V2 client. Three loops share the connection: the read loop parses and executes
/// commands, the reply loop answers them in order (waiting for durable publishes), and once
/// subscribed the message pump hands out messages while in-flight &lt; RDY. Heartbeats and the
/// output sender run beside them. Any fatal error answers with its error frame and closes.
/// </summary>
internal sealed partial class ClientConnection : IChannelConsumer
{
    private const int MaxLineLength = 16 * 1024;

    /// <summary>Command lines up to this long (every real one: two 64-character names) need no pooled buffer.</summary>
    private const int ShortLineLength = 256;

    /// <summary>
    /// The read buffer, rented only while unparsed bytes are waiting: reads start with a zero-byte read
    /// that waits for data without a buffer, so an idle connection holds none (Kestrel does the same).
    /// </summary>
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 64 * 1024, leaveOpen: true, useZeroByteReads: true);
    private static long s_nextId;

    private readonly NsqdServer _server;
    private readonly NsqdOptions _options;
    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationTokenSource _readDeadline;
    // On NsqdOptions.Time, so heartbeat deadlines follow an injected clock. Never disposed (a read may re-arm it while
    // the connection closes); an unarmed timer holds nothing and goes with the connection.
    private readonly ITimer _readDeadlineTimer;
    private readonly Channel<Reply> _replies = System.Threading.Channels.Channel.CreateBounded<Reply>(
        new BoundedChannelOptions(256) { SingleReader = true, SingleWriter = true });
    private readonly AsyncSignal _pumpSignal = new();
    private readonly AsyncSignal _heartbeatReset = new();
    private readonly byte[] _shortLine = new byte[ShortLineLength];
    private byte[] _line;
    private Stream _readStream;
    private PipeReader _reader;
    private int _state = (int)ClientState.Init;
    private long _readyCount;
    private int _inFlight;
    private long _messageCount;
    private long _finishCount;
    private long _requeueCount;
    private Broker.Channel? _channel;
    private Task? _pump;

    public ClientConnection(NsqdServer server, Socket socket)
    {
        _server = server;
        _options = server.Options;
        _socket = socket;
        _logger = server.LoggerFactory.CreateLogger("nsqd.client");
        ClientId = Interlocked.Increment(ref s_nextId);
        var remote = socket.RemoteEndPoint as IPEndPoint;
        RemoteAddress = remote?.ToString() ?? "unknown";
        RemoteIp = remote?.Address.ToString() ?? "";
        Name = RemoteIp;
        Hostname = RemoteIp;
        HeartbeatIntervalMs = (long)(_options.ClientTimeout.TotalMilliseconds / 2);
        MsgTimeoutMs = (long)_options.MsgTimeout.TotalMilliseconds;
        var network = new NetworkStream(socket, ownsSocket: true);
        _readStream = network;
        _line = _shortLine;
        _reader = PipeReader.Create(network, ReaderOptions);
        Output = new ClientOutput(network, (int)Math.Min(int.MaxValue - 1024, _options.MaxMsgSize + ProtocolConstants.MessageHeaderLength));
        Output.TimeoutMs = (long)_options.OutputBufferTimeout.TotalMilliseconds;
        _readDeadline = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        _readDeadlineTimer = _options.Time.CreateTimer(static state => CancelQuietly((CancellationTokenSource)state!), _readDeadline,
            Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ConnectTs = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public long ClientId { get; }

    // --- identity and negotiated settings, shown in /stats ---
    public string RemoteAddress { get; }
    public string RemoteIp { get; }
    public string Name { get; private set; }
    public string Hostname { get; private set; }
    public string UserAgent { get; private set; } = "";
    public string TopologyZone { get; private set; } = "";
    public string TopologyRegion { get; private set; } = "";
    public long ConnectTs { get; }
    public long HeartbeatIntervalMs { get; private set; }
    public long MsgTimeoutMs { get; private set; }
    public int SampleRate { get; private set; }
    public bool Tls { get; private set; }
    public string TlsVersion { get; private set; } = "";
    public string TlsCipherSuite { get; private set; } = "";
    public bool Snappy { get; private set; }
    public bool Deflate { get; private set; }
    public Auth.AuthState? AuthState { get; private set; }
    public ClientOutput Output { get; }
    public ConcurrentDictionary<string, long> PubCounts { get; } = new(StringComparer.Ordinal);

    public ClientState State => (ClientState)Volatile.Read(ref _state);
    public long ReadyCount => Interlocked.Read(ref _readyCount);
    public int InFlightCount => Volatile.Read(ref _inFlight);
    public long MessageCount => Interlocked.Read(ref _messageCount);
    public long FinishCount => Interlocked.Read(ref _finishCount);
    public long RequeueCount => Interlocked.Read(ref _requeueCount);
    public Broker.Channel? SubscribedChannel => _channel;

    private bool IsReadyForMessages =>
        State == ClientState.Subscribed && _channel is { Paused: false } && Volatile.Read(ref _inFlight) < Interlocked.Read(ref _readyCount);

    public async Task RunAsync()
    {
        var ct = _closed.Token;
        var sender = Task.Run(() => RunGuardedAsync(Output.RunSenderAsync(ct)));
        try
        {
            var magic = await ReadMagicAsync().ConfigureAwait(false);
            if (magic == Magic.Replica && _server.Cluster is { } cluster)
            {
                // Another replica fetching (cluster mode): the connection is the agent's from here on, without the
                // client read deadline (its long polls are bounded by the fetch protocol).
                _readDeadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                var network = _readStream;
                await using var replica = new ReadWriteStream(_reader.AsStream(leaveOpen: true), network, network, leaveOpen: true);
                await cluster.ServeReplicaAsync(replica, _closed.Token).ConfigureAwait(false);
                return;
            }

            if (magic != Magic.V2)
            {
                // A wrong magic is answered; a connection closed before 4 bytes just ends (upstream tcp.go).
                if (magic != Magic.None)
                {
                    Output.WriteFrame(FrameType.Error, "E_BAD_PROTOCOL"u8, flush: true);
                    await DrainOutputAsync().ConfigureAwait(false);
                }

                return;
            }

            var replies = Task.Run(RunReplyLoopAsync);
            var heartbeats = Task.Run(RunHeartbeatsAsync);
            await RunReadLoopAsync().ConfigureAwait(false);
            _replies.Writer.TryComplete();
            await replies.ConfigureAwait(false);
            _ = heartbeats;
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            _logger.LogDebug("client {Remote}: {Error}", RemoteAddress, e.Message);
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
            await sender.ConfigureAwait(false);
            Output.ReleaseBuffers();
        }
    }

    private enum Magic
    {
        None,
        V2,
        Replica,
        Other,
    }

    /// <summary>Which protocol the first 4 bytes name; <see cref="Magic.None"/> when the stream ended first.</summary>
    private async Task<Magic> ReadMagicAsync()
    {
        _readDeadlineTimer.Change(_options.ClientTimeout, Timeout.InfiniteTimeSpan);
        while (true)
        {
            var result = await _reader.ReadAsync(_readDeadline.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= 4)
            {
                Span<byte> magic = stackalloc byte[4];
                buffer.Slice(0, 4).CopyTo(magic);
                _reader.AdvanceTo(buffer.GetPosition(4));
                return magic.SequenceEqual(ProtocolConstants.MagicV2) ? Magic.V2
                    : magic.SequenceEqual(ProtocolConstants.MagicReplica) ? Magic.Replica : Magic.Other;
            }

            if (result.IsCompleted)
            {
                return Magic.None;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private async Task RunReadLoopAsync()
    {
        while (!_closed.IsCancellationRequested)
        {
            var length = await ReadLineAsync().ConfigureAwait(false);
            if (length < 0)
            {
                return;
            }

            ProtocolError? error;
            try
            {
                error = await ExecuteAsync(_line.AsMemory(0, length)).ConfigureAwait(false);
            }
            catch (ProtocolError e)
            {
                error = e;
            }
            finally
            {
                if (_line != _shortLine)
                {
                    ArrayPool<byte>.Shared.Return(_line);
                    _line = _shortLine;
                }
            }

            if (error != null)
            {
                await _replies.Writer.WriteAsync(Reply.Failure(error), _closed.Token).ConfigureAwait(false);
                if (error.Fatal)
                {
                    _logger.LogInformation("client {Remote}: {Error}", RemoteAddress, error.FrameText);
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Reads one command line into _line (without \n or \r\n); a line longer than ShortLineLength goes into
    /// a pooled buffer that the read loop returns after the command. -1 at end of stream.
    /// </summary>
    private async ValueTask<int> ReadLineAsync()
    {
        while (true)
        {
            ArmReadDeadline();
            var result = await _reader.ReadAsync(_readDeadline.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (CommandReader.TryReadLine(ref buffer, MaxLineLength, out var line))
            {
                var length = (int)line.Length;
                if (length > _shortLine.Length)
                {
                    _line = ArrayPool<byte>.Shared.Rent(length);
                }

                line.CopyTo(_line);
                _reader.AdvanceTo(buffer.Start);
                return CommandReader.TrimCarriageReturn(_line.AsSpan(0, length)).Length;
            }

            if (result.IsCompleted)
            {
                return -1;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads a big-endian int32 that follows a command line, or throws the given error on EOF.</summary>
    private async ValueTask<int> ReadInt32Async(ProtocolError onFailure)
    {
        var result = await ReadExactlyAsync(4, onFailure).ConfigureAwait(false);
        Span<byte> four = stackalloc byte[4];
        result.Slice(0, 4).CopyTo(four);
        _reader.AdvanceTo(result.GetPosition(4));
        return System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(four);
    }

    /// <summary>Reads exactly count bytes into a pooled buffer (caller returns it).</summary>
    private async ValueTask<byte[]> ReadBodyAsync(int count, ProtocolError onFailure)
    {
        var (body, read) = await ReadUpToAsync(count).ConfigureAwait(false);
        if (read < count)
        {
            ArrayPool<byte>.Shared.Return(body);
            throw onFailure;
        }

        return body;
    }

    /// <summary>Reads count bytes into a pooled buffer (caller returns it); fewer only when the stream ended.</summary>
    private async ValueTask<(byte[] Body, int Read)> ReadUpToAsync(int count)
    {
        var body = ArrayPool<byte>.Shared.Rent(count);
        var copied = 0;
        try
        {
            while (copied < count)
            {
                ArmReadDeadline();
                var result = await _reader.ReadAsync(_readDeadline.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var take = (int)Math.Min(buffer.Length, count - copied);
                buffer.Slice(0, take).CopyTo(body.AsSpan(copied));
                copied += take;
                _reader.AdvanceTo(buffer.GetPosition(take));
                if (copied < count && result.IsCompleted)
                {
                    break;
                }
            }

            return (body, copied);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(body);
            throw;
        }
    }

    private async ValueTask<ReadOnlySequence<byte>> ReadExactlyAsync(int count, ProtocolError onFailure)
    {
        while (true)
        {
            ArmReadDeadline();
            var result = await _reader.ReadAsync(_readDeadline.Token).ConfigureAwait(false);
            if (result.Buffer.Length >= count)
            {
                return result.Buffer;
            }

            if (result.IsCompleted)
            {
                throw onFailure;
            }

            _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Two missed heartbeats disconnect a client (upstream: read deadline = 2 × heartbeat interval).</summary>
    private void ArmReadDeadline()
    {
        if (HeartbeatIntervalMs > 0)
        {
            _readDeadlineTimer.Change(TimeSpan.FromMilliseconds(HeartbeatIntervalMs * 2), Timeout.InfiniteTimeSpan);
        }
        else
        {
            _readDeadlineTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task RunReplyLoopAsync()
    {
        var reader = _replies.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_closed.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var reply))
                {
                    if (!await SendReplyAsync(reply).ConfigureAwait(false))
                    {
                        await DrainOutputAsync().ConfigureAwait(false);
                        Abort();
                        return;
                    }

                    // Send now, on this thread, unless the next reply is ready too (then they go out together).
                    var nextReady = reader.TryPeek(out var next) && (next.PublishCommand == null || next.Publish.IsCompleted);
                    if (!nextReady)
                    {
                        await Output.SendNowAsync(_closed.Token).ConfigureAwait(false);
                    }
                }
            }

            await DrainOutputAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            // Publishes still queued were durable or failed; release their buffers either way.
            while (reader.TryRead(out var left))
            {
                left.Marker?.TrySetCanceled();
                if (left.RentedBuffer != null)
                {
                    ArrayPool<byte>.Shared.Return(left.RentedBuffer);
                }
            }
        }
    }

    /// <summary>Writes one reply; false when it was a fatal error and the connection must close.</summary>
    private async ValueTask<bool> SendReplyAsync(Reply reply)
    {
        if (reply.Marker != null)
        {
            reply.Marker.TrySetResult();
            return true;
        }

        if (reply.PublishCommand != null)
        {
            try
            {
                await reply.Publish.ConfigureAwait(false);
                Output.WriteFrame(FrameType.Response, ProtocolConstants.Ok, flush: true, signalSender: false);
                return true;
            }
            catch (Exception e) when (Cluster.ClusterProtocol.ErrorFor(e) is { } cluster)
            {
                var error = new ProtocolError(cluster.Code, $"{reply.PublishCommand} failed {cluster.Message}");
                Output.WriteFrame(FrameType.Error, error.FrameBytes(), flush: true, signalSender: false);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var error = new ProtocolError($"E_{reply.PublishCommand}_FAILED", $"{reply.PublishCommand} failed {e.Message}");
                Output.WriteFrame(FrameType.Error, error.FrameBytes(), flush: true, signalSender: false);
                _logger.LogError("client {Remote}: {Error}", RemoteAddress, error.FrameText);
                return false;
            }
            finally
            {
                if (reply.RentedBuffer != null)
                {
                    ArrayPool<byte>.Shared.Return(reply.RentedBuffer);
                }
            }
        }

        if (reply.Error != null)
        {
            Output.WriteFrame(FrameType.Error, reply.Error.FrameBytes(), flush: true, signalSender: false);
            return !reply.Error.Fatal;
        }

        Output.WriteFrame(reply.Type, reply.Payload, flush: true, signalSender: false);
        return true;
    }

    private async Task RunHeartbeatsAsync()
    {
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                var interval = HeartbeatIntervalMs;
                if (interval <= 0)
                {
                    await _heartbeatReset.WaitAsync(_closed.Token).ConfigureAwait(false);
                    continue;
                }

                var reset = _heartbeatReset.WaitAsync(_closed.Token);
                var fired = await Task.WhenAny(Task.Delay(TimeSpan.FromMilliseconds(interval), _options.Time, _closed.Token), reset).ConfigureAwait(false);
                if (fired != reset && !_closed.IsCancellationRequested)
                {
                    Output.WriteFrame(FrameType.Response, ProtocolConstants.Heartbeat, flush: true);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Hands out messages while the client is ready; flushes when it stops being ready. Ends with the connection (a channel delete closes it).</summary>
    private async Task RunPumpAsync(Broker.Channel channel)
    {
        var ct = _closed.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (!IsReadyForMessages)
                {
                    Output.RequestFlush();
                    await _pumpSignal.WaitAsync(ct).ConfigureAwait(false);
                    continue;
                }

                await Output.WaitForRoomAsync(ct).ConfigureAwait(false);
                if (channel.TryTake(this, MsgTimeoutMs, out var delivery, out var attempts))
                {
                    if (SampleRate > 0 && Random.Shared.Next(100) > SampleRate)
                    {
                        // Upstream drops sampled-out messages for the channel.
                        channel.Finish(this, new MessageId(delivery.Partition, delivery.Offset));
                        continue;
                    }

                    Interlocked.Increment(ref _inFlight);
                    Interlocked.Increment(ref _messageCount);
                    Output.WriteMessage(delivery, attempts, flush: !IsReadyForMessages);
                    continue;
                }

                // Nothing to take (or paused): TryTake registered us, and a queued message, an unpause, RDY or
                // a released in-flight slot sets the pump signal. One wait, so idle loops stack nothing.
                await _pumpSignal.WaitAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void InFlightReleased(int count)
    {
        Interlocked.Add(ref _inFlight, -count);
        _pumpSignal.Set();
    }

    public void Wake() => _pumpSignal.Set();

    public void CloseForChannelDelete() => Abort();

    public void CloseForLeadershipLoss(string error)
    {
        Output.WriteFrame(FrameType.Error, System.Text.Encoding.UTF8.GetBytes(error), flush: true);
        _ = CloseAfterDrainAsync();
    }

    private async Task CloseAfterDrainAsync()
    {
        await DrainOutputAsync().ConfigureAwait(false);
        Abort();
    }

    private async Task DrainOutputAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await Output.DrainAsync().WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Abort()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task CloseAsync()
    {
        Volatile.Write(ref _state, (int)ClientState.Disconnected);
        Abort();
        _pumpSignal.Set();
        var channel = _channel;
        if (channel != null)
        {
            channel.RemoveClient(this);
        }

        if (_pump != null)
        {
            await _pump.ConfigureAwait(false);
        }

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
        _server.RemoveClient(this);
    }

    /// <summary>Stops the connection from outside (nsqd shutdown).</summary>
    public void Stop() => Abort();

    private static async Task RunGuardedAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
    }
}
