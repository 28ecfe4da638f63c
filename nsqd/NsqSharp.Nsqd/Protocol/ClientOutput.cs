using System.Buffers;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// A client's outgoing byte stream. Producers (reply loop, message pump, heartbeats) append frames
/// under a short lock; one sender loop writes whole buffers to the socket. Responses flush at once;
/// message frames wait until the buffer reaches output_buffer_size, the client stops being ready, or
/// output_buffer_timeout passes (upstream's buffering rules). Bounded: appenders of messages wait
/// while MaxBuffered bytes are unsent. Replies may also be sent inline by the reply loop (SendNowAsync)
/// when the sender is idle, saving a thread hand-off on every acknowledgement; a send lock keeps
/// exactly one writer on the stream.
/// <para>
/// Buffers are pooled (ArrayPool), rented when a frame is appended and given back when a send leaves
/// nothing pending, so an idle connection holds none; while frames keep coming the sent buffer is kept
/// as the spare of a double buffer, so a busy connection does not go back to the pool per send.
/// </para>
/// </summary>
internal sealed class ClientOutput
{
    private readonly object _gate = new();
    private readonly AsyncSignal _sendSignal = new();
    private readonly AsyncSignal _roomSignal = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private const int InitialBufferSize = 64 * 1024;
    private const int LargestKeptBuffer = 1024 * 1024;
    private readonly int _maxBuffered;
    private byte[] _buffer = [];
    private byte[]? _spare;
    private int _length;
    private bool _flushRequested;
    private long _firstPendingTicks;
    private ITimer? _windowTimer;
    private TaskCompletionSource? _drained;

    public ClientOutput(Stream stream, int maxFrameSize)
    {
        Stream = stream;
        _maxBuffered = Math.Max(256 * 1024, maxFrameSize + 64);
    }

    public Stream Stream { get; private set; }

    /// <summary>Bytes of message frames to gather before sending (IDENTIFY output_buffer_size).</summary>
    public int BufferSize { get; set; } = 16 * 1024;

    /// <summary>Longest a message frame may wait in the buffer (IDENTIFY output_buffer_timeout); 0 = no wait.</summary>
    public long TimeoutMs { get; set; } = 250;

    /// <summary>Appends a frame. With signalSender false the caller sends it itself (SendNowAsync).</summary>
    public void WriteFrame(FrameType type, ReadOnlySpan<byte> data, bool flush, bool signalSender = true)
    {
        lock (_gate)
        {
            var length = FrameWriter.Length(data.Length);
            FrameWriter.Write(Reserve(length), type, data);
            Commit(length, flush, signalSender);
        }
    }

    /// <summary>
    /// Sends everything buffered on the caller's thread if no send is in progress; otherwise leaves it
    /// to the sender loop (which then picks it up).
    /// </summary>
    public async ValueTask SendNowAsync(CancellationToken ct)
    {
        if (!_sendLock.Wait(0))
        {
            _sendSignal.Set();
            return;
        }

        try
        {
            await SendBufferedAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Appends one message frame: [size][type 2][timestamp][attempts][16-byte id][body].</summary>
    public void WriteMessage(in Delivery delivery, ushort attempts, bool flush)
    {
        var body = delivery.Body.Span;
        var length = MessageFrame.FrameLength(body.Length);
        lock (_gate)
        {
            MessageFrame.Write(Reserve(length), delivery.TimestampNs, attempts, new MessageId(delivery.Partition, delivery.Offset), body);
            Commit(length, flush, signalSender: true);
        }
    }

    /// <summary>Waits while too much is unsent (a slow reader must not make the server buffer without bound).</summary>
    public async ValueTask WaitForRoomAsync(CancellationToken ct)
    {
        while (Volatile.Read(ref _length) >= _maxBuffered)
        {
            await _roomSignal.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    public void RequestFlush()
    {
        lock (_gate)
        {
            if (_length == 0)
            {
                return;
            }

            _flushRequested = true;
        }

        _sendSignal.Set();
    }

    /// <summary>Completes when everything appended so far has been written and flushed to the stream.</summary>
    public Task DrainAsync()
    {
        lock (_gate)
        {
            if (_length == 0)
            {
                return Task.CompletedTask;
            }

            _flushRequested = true;
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _sendSignal.Set();
            return _drained.Task;
        }
    }

    /// <summary>Swaps the transport (TLS, snappy, deflate upgrades). Call only after DrainAsync.</summary>
    public void ReplaceStream(Stream stream)
    {
        lock (_gate)
        {
            Stream = stream;
        }
    }

    public async Task RunSenderAsync(CancellationToken ct)
    {
        try
        {
            await RunSenderLoopAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _windowTimer?.Dispose();
        }
    }

    private async Task RunSenderLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await _sendSignal.WaitAsync(ct).ConfigureAwait(false);
            while (true)
            {
                long waitMs = 0;
                lock (_gate)
                {
                    if (_length == 0)
                    {
                        break;
                    }

                    if (!_flushRequested && _length < BufferSize && TimeoutMs > 0)
                    {
                        waitMs = TimeoutMs - (Environment.TickCount64 - _firstPendingTicks);
                    }
                }

                if (waitMs > 0)
                {
                    // One re-armed timer per connection sets the send signal when the buffering window ends, so
                    // a wake-up per appended message costs no new timer (they used to pile up, one per message).
                    _windowTimer ??= TimeProvider.System.CreateTimer(static s => ((AsyncSignal)s!).Set(), _sendSignal, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _windowTimer.Change(TimeSpan.FromMilliseconds(waitMs), Timeout.InfiniteTimeSpan);
                    await _sendSignal.WaitAsync(ct).ConfigureAwait(false);
                    continue;
                }

                await _sendLock.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    await SendBufferedAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    _sendLock.Release();
                }
            }
        }
    }

    /// <summary>Writes and flushes whatever is buffered. Call only while holding _sendLock.</summary>
    private async ValueTask SendBufferedAsync(CancellationToken ct)
    {
        byte[] toSend;
        int count;
        Stream stream;
        TaskCompletionSource? drained;
        lock (_gate)
        {
            if (_length == 0)
            {
                return;
            }

            toSend = _buffer;
            count = _length;
            _buffer = _spare ?? [];
            _spare = null;
            _length = 0;
            _flushRequested = false;
            stream = Stream;
            drained = _drained;
            _drained = null;
        }

        await stream.WriteAsync(toSend.AsMemory(0, count), ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
        lock (_gate)
        {
            if (_length == 0)
            {
                // Nothing came in meanwhile: the connection is idle, it keeps no buffer.
                ArrayPool<byte>.Shared.Return(toSend);
                if (_buffer.Length > 0)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = [];
                }
            }
            else if (toSend.Length > LargestKeptBuffer)
            {
                ArrayPool<byte>.Shared.Return(toSend); // a burst grew it; do not keep that much per connection
            }
            else
            {
                _spare = toSend;
            }
        }

        _roomSignal.Set();
        drained?.TrySetResult();
    }

    private Span<byte> Reserve(int size)
    {
        if (_length + size > _buffer.Length)
        {
            if (_length == 0 && _spare != null && _spare.Length >= size)
            {
                (_buffer, _spare) = (_spare, null);
            }
            else
            {
                var grown = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(_buffer.Length * 2, _length + size), InitialBufferSize));
                _buffer.AsSpan(0, _length).CopyTo(grown);
                if (_buffer.Length > 0)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                }

                _buffer = grown;
            }
        }

        return _buffer.AsSpan(_length, size);
    }

    /// <summary>Gives the buffers back to the pool once the connection is closed and its sender has stopped.</summary>
    public void ReleaseBuffers()
    {
        lock (_gate)
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            if (_spare != null)
            {
                ArrayPool<byte>.Shared.Return(_spare);
            }

            _buffer = [];
            _spare = null;
            _length = 0;
        }
    }

    private void Commit(int size, bool flush, bool signalSender)
    {
        var wasEmpty = _length == 0;
        _length += size;
        if (wasEmpty)
        {
            _firstPendingTicks = Environment.TickCount64;
        }

        _flushRequested |= flush || TimeoutMs == 0 || BufferSize <= 1;
        if (signalSender && (wasEmpty || _flushRequested || _length >= BufferSize))
        {
            _sendSignal.Set();
        }
    }
}
