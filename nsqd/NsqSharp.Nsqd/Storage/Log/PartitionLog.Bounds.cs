namespace NsqSharp.Nsqd.Storage;

// The two bounds (Storage/FORMAT.md, "Bounds"). LogEnd: what the writer has appended and synced per SyncMode (on a
// follower: what it has copied). HighWatermark: what consumers may read and what acknowledgements wait for; always
// <= LogEnd. Standalone the writer advances both together; with HighWatermarkFollowsLogEnd = false the owner (a
// replication leader) advances the HW and appends wait for it in _awaitingHighWatermark, in offset order.
public sealed partial class PartitionLog
{
    private readonly object _hwLock = new();
    private readonly Queue<AppendRequest> _awaitingHighWatermark = new();
    private readonly BoundWaiters _logEndWaiters = new();
    private readonly BoundWaiters _hwWaiters = new();
    private readonly BoundWaiters _writtenWaiters = new();
    private long _logEnd;
    private long _writtenEnd;
    private long _highWatermark;

    /// <summary>Offset after the last record appended and synced per <see cref="PartitionLogOptions.SyncMode"/>
    /// (fsynced in the default mode, written in the relaxed ones). Readers with <see cref="LogBound.LogEnd"/> see
    /// [StartOffset, LogEnd).</summary>
    public long LogEnd => Volatile.Read(ref _logEnd);

    /// <summary>Offset after the last committed record: consumers (<see cref="LogBound.HighWatermark"/>) see
    /// [StartOffset, HighWatermark). Equal to <see cref="LogEnd"/> when <see cref="PartitionLogOptions.HighWatermarkFollowsLogEnd"/>;
    /// otherwise what the owner last passed to <see cref="AdvanceHighWatermark"/> (never beyond LogEnd).</summary>
    public long HighWatermark => Volatile.Read(ref _highWatermark);

    /// <summary>The current value of <paramref name="bound"/>.</summary>
    public long Bound(LogBound bound) => bound switch
    {
        LogBound.HighWatermark => Volatile.Read(ref _highWatermark),
        LogBound.LogEnd => Volatile.Read(ref _logEnd),
        LogBound.Written => Volatile.Read(ref _writtenEnd),
        _ => throw new ArgumentOutOfRangeException(nameof(bound), bound, "unknown log bound"),
    };

    /// <summary>Offset after the last record written to the file, synced or not (see <see cref="LogBound.Written"/>).</summary>
    public long WrittenEnd => Volatile.Read(ref _writtenEnd);

    /// <summary>
    /// Raises the high watermark to <paramref name="offset"/>, clamped to <see cref="LogEnd"/> (a replication leader:
    /// the smallest log end of the in-sync replicas). Monotonic: a lower value is ignored. Completes the appends it
    /// passes and wakes the <see cref="LogBound.HighWatermark"/> listeners on the calling thread. Returns the high
    /// watermark after the call. InvalidOperationException when the HW follows the log end (the default).
    /// </summary>
    public long AdvanceHighWatermark(long offset)
    {
        if (_hwFollowsLogEnd)
        {
            throw new InvalidOperationException($"partition log {_directory}: the high watermark follows the log end (PartitionLogOptions.HighWatermarkFollowsLogEnd)");
        }

        List<AppendRequest>? committed = null;
        long hw;
        lock (_hwLock)
        {
            hw = _highWatermark;
            long target = Math.Min(offset, Volatile.Read(ref _logEnd));
            if (target <= hw)
            {
                return hw;
            }

            hw = target;
            Volatile.Write(ref _highWatermark, hw);
            committed = TakeCommittedLocked(hw);
        }

        _hwWaiters.Wake(_logger, _directory);
        Complete(committed);
        return hw;
    }

    /// <summary>
    /// Completes when <paramref name="bound"/> &gt; <paramref name="offset"/>; woken by every advance of the bound, so a
    /// caller re-checks. Faults with ObjectDisposedException once the log is disposed.
    /// </summary>
    public Task WaitForDataAsync(long offset, LogBound bound, CancellationToken ct)
    {
        BoundWaiters waiters = Waiters(bound);
        if (Bound(bound) > offset)
        {
            return Task.CompletedTask;
        }

        Task signal = waiters.Arm();
        if (Bound(bound) > offset)
        {
            return Task.CompletedTask;
        }

        if (_disposed)
        {
            return Task.FromException(new ObjectDisposedException(nameof(PartitionLog)));
        }

        return ct.CanBeCanceled ? signal.WaitAsync(ct) : signal;
    }

    /// <summary>
    /// Registers a callback run each time <paramref name="bound"/> advances: on the writer thread (log end, and the
    /// high watermark when it follows the log end) or on the thread calling <see cref="AdvanceHighWatermark"/>. It
    /// must be cheap and never block (a channel cursor sets its fill loop's wake-up; a leader's fetch serving wakes
    /// its long-polls). Consumers listen on <see cref="LogBound.HighWatermark"/>. A truncation lowers the bounds and
    /// wakes nobody. Long-lived readers use this instead of racing <see cref="WaitForDataAsync"/> against their other
    /// wake-ups, which would stack continuations.
    /// </summary>
    public void AddDataListener(LogBound bound, Action listener) => Waiters(bound).Add(listener);

    /// <summary>Removes a callback added by <see cref="AddDataListener"/> for the same bound.</summary>
    public void RemoveDataListener(LogBound bound, Action listener) => Waiters(bound).Remove(listener);

    private BoundWaiters Waiters(LogBound bound) => bound switch
    {
        LogBound.HighWatermark => _hwWaiters,
        LogBound.LogEnd => _logEndWaiters,
        LogBound.Written => _writtenWaiters,
        _ => throw new ArgumentOutOfRangeException(nameof(bound), bound, "unknown log bound"),
    };

    /// <summary>Writer: everything below <paramref name="end"/> is in the file and its segment bytes are published
    /// (not necessarily synced yet); wake the <see cref="LogBound.Written"/> waiters (a leader's follower fetches).</summary>
    private void PublishWrittenEnd(long end)
    {
        if (end <= Volatile.Read(ref _writtenEnd))
        {
            return;
        }

        Volatile.Write(ref _writtenEnd, end);
        _writtenWaiters.Wake(_logger, _directory);
    }

    /// <summary>Writer: everything below <paramref name="end"/> is written (and synced per SyncMode) and its segment bytes
    /// published; advance the log end (and the HW when it follows) and wake their waiters.</summary>
    private void PublishLogEnd(long end)
    {
        if (end == Volatile.Read(ref _logEnd))
        {
            return;
        }

        PublishWrittenEnd(end); // the written end is never below the log end
        Volatile.Write(ref _logEnd, end);
        _logEndWaiters.Wake(_logger, _directory);
        if (_hwFollowsLogEnd)
        {
            Volatile.Write(ref _highWatermark, end);
            _hwWaiters.Wake(_logger, _directory);
        }
    }

    /// <summary>Writer, after <see cref="PublishLogEnd"/>: completes a run's requests. Own appends wait for the high
    /// watermark when it is owned externally; raw appends (a follower's) and flushes complete on the log end.</summary>
    private void CompleteAppends(List<AppendRequest> group, int from, int to)
    {
        List<AppendRequest>? committed = null;
        bool waiting = false;
        for (int i = from; i < to; i++)
        {
            AppendRequest request = group[i];
            if (request.Error is { } error)
            {
                request.SetException(error);
            }
            else if (request.Kind == AppendKind.Flush)
            {
                request.SetResult(default);
            }
            else if (request.Kind == AppendKind.Batch && !_hwFollowsLogEnd)
            {
                if (!waiting)
                {
                    Monitor.Enter(_hwLock);
                    waiting = true;
                }

                _awaitingHighWatermark.Enqueue(request);
            }
            else
            {
                request.SetResult(new AppendResult(request.FirstOffset, request.Count));
            }
        }

        if (waiting)
        {
            try
            {
                committed = TakeCommittedLocked(_highWatermark);
            }
            finally
            {
                Monitor.Exit(_hwLock);
            }

            Complete(committed);
        }
    }

    /// <summary>Under _hwLock: the waiting appends whose every offset is below <paramref name="hw"/>.</summary>
    private List<AppendRequest>? TakeCommittedLocked(long hw)
    {
        List<AppendRequest>? committed = null;
        while (_awaitingHighWatermark.TryPeek(out AppendRequest? request) && request.EndOffset <= hw)
        {
            (committed ??= []).Add(_awaitingHighWatermark.Dequeue());
        }

        return committed;
    }

    private static void Complete(List<AppendRequest>? committed)
    {
        if (committed is null)
        {
            return;
        }

        foreach (AppendRequest request in committed)
        {
            request.SetResult(new AppendResult(request.FirstOffset, request.Count));
        }
    }

    /// <summary>Writer (truncation): lowers the bounds to at most <paramref name="end"/>, without waking anyone.</summary>
    private void LowerBounds(long end)
    {
        lock (_hwLock)
        {
            if (Volatile.Read(ref _highWatermark) > end)
            {
                Volatile.Write(ref _highWatermark, end);
            }

            if (Volatile.Read(ref _logEnd) > end)
            {
                Volatile.Write(ref _logEnd, end);
            }

            if (Volatile.Read(ref _writtenEnd) > end)
            {
                Volatile.Write(ref _writtenEnd, end);
            }
        }
    }

    /// <summary>Fails the appends waiting for the high watermark that hold offsets at or after <paramref name="from"/>
    /// (truncated away, or the log closed).</summary>
    private void FailAwaitingHighWatermark(long from, Exception error)
    {
        List<AppendRequest>? failed = null;
        lock (_hwLock)
        {
            int count = _awaitingHighWatermark.Count;
            for (int i = 0; i < count; i++)
            {
                AppendRequest request = _awaitingHighWatermark.Dequeue();
                if (request.EndOffset > from)
                {
                    (failed ??= []).Add(request);
                }
                else
                {
                    _awaitingHighWatermark.Enqueue(request);
                }
            }
        }

        if (failed is not null)
        {
            foreach (AppendRequest request in failed)
            {
                request.SetException(error);
            }
        }
    }

    private void CloseWaiters()
    {
        _logEndWaiters.Close();
        _hwWaiters.Close();
        _writtenWaiters.Close();
    }
}
