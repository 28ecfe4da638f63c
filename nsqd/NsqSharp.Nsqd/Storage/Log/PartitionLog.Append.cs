using System.Buffers;

namespace NsqSharp.Nsqd.Storage;

// The append queue: a caller encodes its batch (and its CRC) into a pooled buffer on its own thread, in parallel with
// other callers, and queues it; the writer (PartitionLog.Writer.cs) drains the whole queue per turn. Queued bytes are
// bounded by MaxPendingAppendBytes: appenders wait for room (backpressure).
public sealed partial class PartitionLog
{
    /// <summary>
    /// Appends one message. Completes when durable per <see cref="PartitionLogOptions.SyncMode"/> (and, when the high
    /// watermark is owned externally, once it passes the message). The body is copied before this returns, so the
    /// caller may reuse its buffer at once. Cancellation is honored only while waiting for queue space
    /// (backpressure); once queued, the append happens.
    /// </summary>
    public ValueTask<AppendResult> AppendAsync(ReadOnlyMemory<byte> body, long deliverAtMs, CancellationToken ct = default)
    {
        long size = (long)LogFormat.BatchHeaderSize + LogFormat.RecordHeaderSize + body.Length;
        if (size > PartitionLogOptions.MaxBatchBytes)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException($"message of {body.Length} bytes exceeds the batch limit", nameof(body)));
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)size);
        int length = LogFormat.EncodeBatch(buffer, null, body.Span, LogFormat.NowUnixNs(), deliverAtMs);
        return Enqueue(AppendKind.Batch, buffer, length, 1, 0, 0, ct);
    }

    /// <summary>
    /// Appends several messages atomically as one batch (MPUB): contiguous offsets, all or nothing on disk.
    /// Same completion rules as <see cref="AppendAsync"/>.
    /// </summary>
    public ValueTask<AppendResult> AppendBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> bodies, long deliverAtMs, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        int count = bodies.Count;
        if (count == 0)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException("a batch needs at least one message", nameof(bodies)));
        }

        long size = LogFormat.BatchHeaderSize;
        for (int i = 0; i < count; i++)
        {
            size += LogFormat.RecordHeaderSize + bodies[i].Length;
        }

        if (size > PartitionLogOptions.MaxBatchBytes)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException($"batch of {size} bytes exceeds the limit of {PartitionLogOptions.MaxBatchBytes}", nameof(bodies)));
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)size);
        int length = LogFormat.EncodeBatch(buffer, bodies, default, LogFormat.NowUnixNs(), deliverAtMs);
        return Enqueue(AppendKind.Batch, buffer, length, count, 0, 0, ct);
    }

    /// <summary>fsyncs everything appended before this call (in any mode). Completes after the fsync.</summary>
    public ValueTask FlushAsync()
    {
        AppendRequest request = RentRequest();
        request.Kind = AppendKind.Flush;
        request.Buffer = null;
        request.Length = 0;
        request.Count = 0;
        lock (_queueLock)
        {
            if (_disposing)
            {
                ReturnRequest(request);
                return ValueTask.FromException(new ObjectDisposedException(nameof(PartitionLog)));
            }

            AddLocked(request);
        }

        return new ValueTask(request, request.Version);
    }

    /// <summary>Under _queueLock: queues a request and wakes the writer if the queue was empty (else it is due anyway).</summary>
    private void AddLocked(AppendRequest request)
    {
        _queue.Add(request);
        if (_queue.Count == 1)
        {
            Signal();
        }
    }

    private ValueTask<AppendResult> Enqueue(AppendKind kind, byte[] buffer, int length, int count, long firstOffset, long firstEpoch, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.FromCanceled<AppendResult>(ct);
        }

        AppendRequest request = RentRequest();
        request.Kind = kind;
        request.Buffer = buffer;
        request.Length = length;
        request.Count = count;
        request.FirstOffset = firstOffset;
        request.FirstEpoch = firstEpoch;
        Exception? error = null;
        bool wait = false;
        lock (_queueLock)
        {
            error = RefuseReason();
            if (error is null)
            {
                if (_pendingBytes > 0 && _pendingBytes + length > _options.MaxPendingAppendBytes)
                {
                    wait = true;
                }
                else
                {
                    _pendingBytes += length;
                    AddLocked(request);
                }
            }
        }

        if (error is not null)
        {
            request.Buffer = null;
            ReturnRequest(request);
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.FromException<AppendResult>(error);
        }

        return wait ? EnqueueSlowAsync(request, ct) : new ValueTask<AppendResult>(request, request.Version);
    }

    private async ValueTask<AppendResult> EnqueueSlowAsync(AppendRequest request, CancellationToken ct)
    {
        int length = request.Length;
        while (true)
        {
            Task space;
            lock (_queueLock)
            {
                Exception? error = RefuseReason();
                if (error is not null)
                {
                    ArrayPool<byte>.Shared.Return(request.Buffer!);
                    request.Buffer = null;
                    ReturnRequest(request);
                    throw error;
                }

                if (_pendingBytes == 0 || _pendingBytes + length <= _options.MaxPendingAppendBytes)
                {
                    _pendingBytes += length;
                    AddLocked(request);
                    break;
                }

                _spaceAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                space = _spaceAvailable.Task;
            }

            try
            {
                await space.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ArrayPool<byte>.Shared.Return(request.Buffer!);
                request.Buffer = null;
                ReturnRequest(request);
                throw;
            }
        }

        return await new ValueTask<AppendResult>(request, request.Version).ConfigureAwait(false);
    }

    /// <summary>Under _queueLock: why an append must be refused now, or null.</summary>
    private Exception? RefuseReason()
    {
        if (_disposing)
        {
            return new ObjectDisposedException(nameof(PartitionLog));
        }

        string? health = _health;
        return health is null ? null : new IOException($"partition log {_directory} is unhealthy: {health}");
    }

    private AppendRequest RentRequest()
    {
        if (_requestPool.TryDequeue(out AppendRequest? request))
        {
            Interlocked.Decrement(ref _pooledRequests);
            request.Error = null;
            return request;
        }

        return new AppendRequest(this);
    }

    internal void ReturnRequest(AppendRequest request)
    {
        request.Buffer = null;
        request.Error = null;
        if (Interlocked.Increment(ref _pooledRequests) <= MaxPooledRequests)
        {
            _requestPool.Enqueue(request);
        }
        else
        {
            Interlocked.Decrement(ref _pooledRequests);
        }
    }
}
