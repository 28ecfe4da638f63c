using System.Buffers;
using System.Runtime.CompilerServices;

namespace NsqSharp.Client.Connection;

/// <summary>Encodes one command into the outbound buffer; a static lambda plus a struct state allocates nothing.</summary>
internal delegate void CommandEncoder<TState>(IBufferWriter<byte> writer, TState state);

/// <summary>
/// The bytes waiting to go out on one connection. Writers encode commands into the "filling" buffer under a
/// short lock (no I/O); the send loop swaps it with the "draining" buffer and writes that to the network
/// outside the lock, so concurrent commands coalesce into one write. Bounded: a writer whose command would
/// grow a non-empty buffer past the limit must wait for the send loop to drain it.
/// </summary>
internal sealed class OutboundBuffer : IDisposable
{
    private readonly object _gate = new();
    private readonly int _limit;
    private readonly AsyncAutoResetSignal _dataReady = new();
    private PooledBufferWriter _filling = new();
    private PooledBufferWriter _draining = new();
    private TaskCompletionSource? _spaceFreed;
    private bool _completed;
    private Exception? _failure;

    public OutboundBuffer(int limit)
    {
        _limit = limit;
    }

    /// <summary>Appends a command. Returns false (nothing written) when it does not fit under the limit; control
    /// commands pass <paramref name="ignoreLimit"/> since they are tiny and must not wait.</summary>
    /// <exception cref="NsqConnectionException">The connection is closed or closing.</exception>
    public bool TryWrite<TState>(TState state, long size, CommandEncoder<TState> encode, bool ignoreLimit = false)
    {
        lock (_gate)
        {
            ThrowIfCompleted();
            var filled = _filling.WrittenCount;
            if (!ignoreLimit && filled > 0 && filled + size > _limit)
            {
                return false;
            }

            encode(_filling, state);
            if (filled == 0)
            {
                _dataReady.Set();
            }

            return true;
        }
    }

    /// <summary>Waits until the send loop has taken the current buffer (or the connection closed).</summary>
    public async ValueTask WaitForSpaceAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_gate)
        {
            ThrowIfCompleted();
            if (_filling.WrittenCount == 0)
            {
                return;
            }

            _spaceFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _spaceFreed.Task;
        }

        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Send loop: waits for data and returns the next batch; empty once completed and drained.</summary>
    /// <remarks>Pooled builder: this suspends once per batch, which must not cost an allocation.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadOnlyMemory<byte>> TakeBatchAsync()
    {
        while (true)
        {
            lock (_gate)
            {
                if (_filling.WrittenCount > 0 && _failure == null)
                {
                    (_filling, _draining) = (_draining, _filling);
                    var freed = _spaceFreed;
                    _spaceFreed = null;
                    freed?.TrySetResult();
                    return _draining.WrittenMemory;
                }

                if (_completed)
                {
                    return ReadOnlyMemory<byte>.Empty;
                }
            }

            await _dataReady.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Send loop: the batch returned by <see cref="TakeBatchAsync"/> is on the wire.</summary>
    public void BatchSent()
    {
        lock (_gate)
        {
            _draining.Clear();
        }
    }

    /// <summary>Stops accepting commands. With no failure, what is buffered is still sent; with one, it is dropped.</summary>
    public void Complete(Exception? failure)
    {
        TaskCompletionSource? freed;
        lock (_gate)
        {
            if (_completed && (failure == null || _failure != null))
            {
                return;
            }

            _completed = true;
            _failure ??= failure;
            freed = _spaceFreed;
            _spaceFreed = null;
        }

        freed?.TrySetException(Closed());
        _dataReady.Set();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _filling.Dispose();
            _draining.Dispose();
        }
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw Closed();
        }
    }

    private NsqConnectionException Closed() =>
        _failure as NsqConnectionException ?? new NsqConnectionException("connection closed", _failure);
}
