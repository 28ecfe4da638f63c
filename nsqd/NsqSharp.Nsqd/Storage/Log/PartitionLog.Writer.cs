using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

// The writer: one turn at a time on a LogWriterPool thread (see there for the scheduling). A turn takes ALL queued
// requests and commits them as one group: stamps offsets and epochs, one gather write (pwritev) per segment, one
// fdatasync, publishes the log end and completes the waiters. A batch that would push the segment past SegmentBytes
// rolls first. Truncations in the queue split the group: what came before is committed, then the truncation runs,
// then what came after. In the relaxed sync modes appends complete after the write; the fsync follows per SyncEvery /
// SyncTimeout (a timer schedules a turn when the timeout is due). A failed write or fsync marks the log unhealthy
// (Health) and fails that and every later append with IOException; reopen to recover.
public sealed partial class PartitionLog
{
    private const int TurnIdle = 0;
    private const int TurnScheduled = 1;

    private readonly List<ReadOnlyMemory<byte>> _gather = new(); // writer only
    private List<AppendRequest> _group = new();                  // writer only: the drained queue
    private int _turnState;
    private int _turnRequested;

    // Writer state (touched only by the writer turn, and by Open/Dispose before/after it runs).
    private LogSegment _active;
    private long _nextOffset; // next offset to assign; readers use it only as an upper bound for corruption resync
    private long _unsyncedMessages;
    private bool _dirty;
    private long _lastSyncTick = Environment.TickCount64;
    private bool _writerDone;
    private List<EpochEntry>? _newEpochs;
    private Timer? _syncTimer;
    private volatile bool _syncTimerArmed;

    private bool Relaxed => _options.SyncMode != SyncMode.EveryAppend;

    /// <summary>Wakes the writer: schedules a turn unless one is scheduled or running (which then runs once more).</summary>
    private void Signal()
    {
        Interlocked.Exchange(ref _turnRequested, 1);
        if (Interlocked.CompareExchange(ref _turnState, TurnScheduled, TurnIdle) == TurnIdle)
        {
            _writers.Schedule(this);
        }
    }

    /// <summary>
    /// Pool thread: runs one writer turn. Never runs concurrently with itself (the turn state is scheduled from
    /// <see cref="Signal"/> until this returns). True when work arrived during the turn and the caller now owns the
    /// log's next turn (it runs it, or queues it behind other logs).
    /// </summary>
    internal bool RunWriterTurn()
    {
        Interlocked.Exchange(ref _turnRequested, 0);
        try
        {
            WriterTurn();
        }
        catch (Exception e)
        {
            // A bug: every request path catches its own failures. Keep the pool thread alive and the log failing loudly.
            if (_health is null)
            {
                MarkUnhealthy("writer failed", e);
            }
        }

        Interlocked.Exchange(ref _turnState, TurnIdle);
        return Volatile.Read(ref _turnRequested) == 1
            && Interlocked.CompareExchange(ref _turnState, TurnScheduled, TurnIdle) == TurnIdle;
    }

    private void WriterTurn()
    {
        if (_writerDone)
        {
            return;
        }

        bool disposing;
        lock (_queueLock)
        {
            (_queue, _group) = (_group, _queue);
            disposing = _disposing; // once seen under the lock, nothing more can be queued
        }

        if (_group.Count > 0)
        {
            try
            {
                ProcessGroup(_group);
            }
            finally
            {
                _group.Clear();
            }
        }

        if (_dirty && Relaxed && Environment.TickCount64 - _lastSyncTick >= _syncTimeoutMs)
        {
            TrySyncIdle();
        }

        if (Interlocked.Exchange(ref _rollRequested, 0) == 1 && _health is null && _active.Size > 0)
        {
            try
            {
                using SegmentLease lease = _active.File.Acquire();
                _ = Roll(_active, lease.Handle, _nextOffset, out SegmentLease rolled);
                rolled.Dispose();
            }
            catch (Exception e)
            {
                MarkUnhealthy("segment roll failed", e);
            }
        }

        if (disposing)
        {
            if (_dirty)
            {
                TrySyncIdle();
            }

            WriteCloseState();
            _writerDone = true;
            _syncTimer?.Dispose();
            _writerStopped.TrySetResult();
            return;
        }

        if (_dirty && Relaxed && !_syncTimerArmed)
        {
            ArmSyncTimer();
        }
    }

    /// <summary>Writer, closing: the active segment's indexes and a changed epoch cache, so the next open trusts them.</summary>
    private void WriteCloseState()
    {
        if (_health is not null)
        {
            return;
        }

        try
        {
            if (_activePreallocated) // the indexes describe the file's exact length; no handle is taken otherwise
            {
                using SegmentLease lease = _active.File.Acquire();
                TrimSpareRoom(lease.Handle);
                NativeFile.FlushData(lease.Handle);
            }

            _active.WriteIndexes(_active.Size);
            _epochs.PersistIfDirty();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(e, "partition log {Directory}: could not write the active segment's index or the epoch checkpoint; they will be rebuilt on open", _directory);
        }
    }

    private void ArmSyncTimer()
    {
        long due = Math.Clamp(_lastSyncTick + _syncTimeoutMs - Environment.TickCount64, 1, int.MaxValue);
        _syncTimerArmed = true;
        _syncTimer ??= new Timer(static state => ((PartitionLog)state!).OnSyncTimer(), this, Timeout.Infinite, Timeout.Infinite);
        _syncTimer.Change(due, Timeout.Infinite);
    }

    private void OnSyncTimer()
    {
        _syncTimerArmed = false;
        try
        {
            Signal();
        }
        catch (ObjectDisposedException)
        {
            // A private pool disposed with this log still open (misuse); never throw on a timer thread.
        }
    }

    private void ProcessGroup(List<AppendRequest> group)
    {
        int start = 0;
        for (int i = 0; i < group.Count; i++)
        {
            if (group[i].Kind == AppendKind.Truncate)
            {
                if (i > start)
                {
                    WriteRun(group, start, i);
                }

                Truncate(group[i]);
                start = i + 1;
            }
        }

        if (start < group.Count)
        {
            WriteRun(group, start, group.Count);
        }
    }

    /// <summary>Commits group[from..to) (batches, raw batches, flushes) as one group commit.</summary>
    private void WriteRun(List<AppendRequest> group, int from, int to)
    {
        long runBytes = 0;
        for (int i = from; i < to; i++)
        {
            runBytes += group[i].Length;
        }

        bool forceSync = false;
        SegmentLease lease = default;
        bool opening = false;
        bool leased = false;
        List<ReadOnlyMemory<byte>> gather = _gather;
        try
        {
            if (_health is not null)
            {
                throw new IOException($"partition log {_directory} is unhealthy: {_health}");
            }

            LogSegment segment = _active;

            // The write and the fsync that acknowledges it go through this one lease (the handle cannot be evicted
            // in between); after the group the handle goes back to the cache, which may close it while idle.
            opening = true;
            lease = segment.File.Acquire();
            opening = false;
            leased = true;
            long position = segment.Size;
            long writeStart = position;
            long next = _nextOffset;
            long epoch = LeaderEpoch;
            long latestEpoch = _epochs.LatestEpoch;
            long segmentLimit = _options.SegmentBytes;
            int indexInterval = _options.IndexIntervalBytes;
            long messages = 0;
            gather.Clear();
            _newEpochs?.Clear();
            if (position > 0 && SpareWaitsForEarlyRoll)
            {
                segment = RollDuringRun(segment, ref lease, ref position, ref writeStart, next, gather); // this run goes into the spare
            }

            for (int i = from; i < to; i++)
            {
                AppendRequest request = group[i];
                switch (request.Kind)
                {
                    case AppendKind.Flush:
                        forceSync = true;
                        break;

                    case AppendKind.Batch:
                    {
                        if (epoch < latestEpoch)
                        {
                            request.Error = new InvalidOperationException(
                                $"partition log {_directory}: leader epoch {epoch} is below the log's latest epoch {latestEpoch}");
                            break;
                        }

                        if (position > 0 && position + request.Length > segmentLimit)
                        {
                            segment = RollDuringRun(segment, ref lease, ref position, ref writeStart, next, gather);
                        }

                        byte[] buffer = request.Buffer!;
                        LogFormat.StampBatch(buffer, next, epoch);
                        var header = new BatchHeader(buffer.AsSpan(0, LogFormat.BatchHeaderSize));
                        segment.OnBatch(position, next, header.MaxTimestampNs, indexInterval);
                        if (epoch > latestEpoch)
                        {
                            (_newEpochs ??= []).Add(new EpochEntry(epoch, next));
                            latestEpoch = epoch;
                        }

                        request.FirstOffset = next;
                        gather.Add(new ReadOnlyMemory<byte>(buffer, 0, request.Length));
                        position += request.Length;
                        next += request.Count;
                        messages += request.Count;
                        break;
                    }

                    case AppendKind.Raw:
                    {
                        if (request.FirstOffset != next)
                        {
                            request.Error = new LogContinuityException(_directory, next, request.FirstOffset);
                            break;
                        }

                        if (request.FirstEpoch < latestEpoch)
                        {
                            request.Error = new InvalidOperationException(
                                $"partition log {_directory}: raw batches of leader epoch {request.FirstEpoch} at offset {request.FirstOffset} are below the log's latest epoch {latestEpoch}; truncate first");
                            break;
                        }

                        byte[] raw = request.Buffer!;
                        int sliceStart = 0;
                        for (int p = 0; p < request.Length;)
                        {
                            var header = new BatchHeader(raw.AsSpan(p, LogFormat.BatchHeaderSize));
                            if (position > 0 && position + header.Length > segmentLimit)
                            {
                                if (p > sliceStart)
                                {
                                    gather.Add(new ReadOnlyMemory<byte>(raw, sliceStart, p - sliceStart));
                                }

                                segment = RollDuringRun(segment, ref lease, ref position, ref writeStart, next, gather);
                                sliceStart = p;
                            }

                            segment.OnBatch(position, next, header.MaxTimestampNs, indexInterval);
                            if (header.LeaderEpoch > latestEpoch)
                            {
                                (_newEpochs ??= []).Add(new EpochEntry(header.LeaderEpoch, next));
                                latestEpoch = header.LeaderEpoch;
                            }

                            position += header.Length;
                            next += header.Count;
                            p += header.Length;
                        }

                        if (request.Length > sliceStart)
                        {
                            gather.Add(new ReadOnlyMemory<byte>(raw, sliceStart, request.Length - sliceStart));
                        }

                        messages += request.Count;
                        break;
                    }
                }
            }

            WriteGathered(lease.Handle, writeStart, gather);
            segment.Size = position;
            segment.NextOffset = next;
            Volatile.Write(ref _nextOffset, next);
            ReturnBuffers(group, from, to);

            // Written, not yet synced: a leader's followers may fetch it now, while this thread syncs.
            segment.ReadableSize = position;
            PublishWrittenEnd(next);

            _unsyncedMessages += messages;
            _dirty |= messages > 0;
            bool sync = _dirty && (_options.SyncMode == SyncMode.EveryAppend
                || forceSync
                || (_options.SyncMode == SyncMode.EveryN && _unsyncedMessages >= _options.SyncEvery)
                || Environment.TickCount64 - _lastSyncTick >= _syncTimeoutMs);
            if (sync)
            {
                SyncActive(lease.Handle);
            }

            // The epoch of acknowledged data is in the checkpoint before the acknowledgement.
            PersistNewEpochs();

            // Publish the offsets readers bound themselves by (the segment bytes already are), waking their waiters.
            PublishLogEnd(next);
            CompleteAppends(group, from, to);
            MaybeStartSpare();
        }
        catch (Exception e) when (opening && IsTransientOpenFailure(e))
        {
            // Nothing was written: fail this run only (publishers see an error and may retry).
            _logger.LogError("partition log {Directory}: cannot open the active segment: {Error}", _directory, e.Message);
            ReturnBuffers(group, from, to);
            _newEpochs?.Clear();
            FailRun(group, from, to, new IOException($"partition log {_directory}: cannot open the active segment: {e.Message}", e));
        }
        catch (Exception e)
        {
            // Any failure here (I/O or a bug) must fail the waiters rather than kill the writer.
            if (_health is null)
            {
                MarkUnhealthy("write failed", e);
            }

            ReturnBuffers(group, from, to);
            _newEpochs?.Clear();
            Volatile.Write(ref _nextOffset, Volatile.Read(ref _logEnd));
            FailRun(group, from, to, new IOException($"partition log {_directory}: {_health}", e));
        }
        finally
        {
            if (leased)
            {
                lease.Dispose();
            }

            TaskCompletionSource? space = null;
            lock (_queueLock)
            {
                _pendingBytes -= runBytes;
                if (_spaceAvailable is not null)
                {
                    space = _spaceAvailable;
                    _spaceAvailable = null;
                }
            }

            space?.TrySetResult();
        }
    }

    /// <summary>Writer: the run's bytes so far go to the old segment, which rolls; the run continues in the new one.</summary>
    private LogSegment RollDuringRun(LogSegment segment, ref SegmentLease lease, ref long position, ref long writeStart, long next,
        List<ReadOnlyMemory<byte>> gather)
    {
        WriteGathered(lease.Handle, writeStart, gather);
        segment.Size = position;
        segment.NextOffset = next;
        Volatile.Write(ref _nextOffset, next);

        // Before the closed segment's indexes are written: after a crash only the last segment is rescanned, so the
        // checkpoint must already hold any epoch whose first batch lies in a closed one.
        PersistNewEpochs();
        LogSegment rolled = Roll(segment, lease.Handle, next, out SegmentLease newLease);
        SegmentLease old = lease;
        lease = newLease;
        old.Dispose();
        position = 0;
        writeStart = 0;
        return rolled;
    }

    private void PersistNewEpochs()
    {
        if (_newEpochs is not { Count: > 0 } entries)
        {
            return;
        }

        foreach (EpochEntry entry in entries)
        {
            _epochs.Assign(entry.Epoch, entry.StartOffset);
        }

        entries.Clear();
        _epochs.Persist();
    }

    private static void FailRun(List<AppendRequest> group, int from, int to, Exception error)
    {
        for (int i = from; i < to; i++)
        {
            group[i].SetException(error);
        }
    }

    private static void ReturnBuffers(List<AppendRequest> group, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            AppendRequest request = group[i];
            if (request.Buffer is { } buffer)
            {
                request.Buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private void WriteGathered(SafeFileHandle handle, long position, List<ReadOnlyMemory<byte>> gather)
    {
        if (gather.Count == 0)
        {
            return;
        }

        if (gather.Count == 1)
        {
            RandomAccess.Write(handle, gather[0].Span, position);
        }
        else
        {
            RandomAccess.Write(handle, gather, position);
        }

        gather.Clear();
        Interlocked.Increment(ref _writeCount);
    }

    private void TrySyncIdle()
    {
        if (_health is not null)
        {
            return;
        }

        SegmentLease lease;
        try
        {
            lease = _active.File.Acquire();
        }
        catch (Exception e) when (IsTransientOpenFailure(e))
        {
            // The data is written; only its fsync waits. Try again after another sync timeout.
            _logger.LogWarning("partition log {Directory}: cannot open the active segment to fsync it ({Error}); retrying", _directory, e.Message);
            _lastSyncTick = Environment.TickCount64;
            return;
        }
        catch (Exception e)
        {
            MarkUnhealthy("fsync failed", e);
            return;
        }

        try
        {
            // fdatasync through a new descriptor still flushes everything written to the file through an evicted one,
            // and Linux reports a writeback error to it if no descriptor has seen it yet.
            SyncActive(lease.Handle);
        }
        catch (Exception e)
        {
            MarkUnhealthy("fsync failed", e);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Opening a segment can fail for want of descriptors (EMFILE/ENFILE) or memory: nothing was written, so only the
    /// operation at hand fails and the log stays healthy. A segment file that vanished, or lost permissions, is not
    /// transient: the log is marked unhealthy.
    /// </summary>
    private static bool IsTransientOpenFailure(Exception e) =>
        e is IOException and not (FileNotFoundException or DirectoryNotFoundException);

    private void SyncActive(SafeFileHandle handle)
    {
        NativeFile.FlushData(handle);
        Interlocked.Increment(ref _syncCount);
        _dirty = false;
        _unsyncedMessages = 0;
        _lastSyncTick = Environment.TickCount64;
    }

    /// <summary>
    /// Writer only: closes <paramref name="old"/> (fsync through <paramref name="oldHandle"/>, index files) and starts a
    /// segment at <paramref name="baseOffset"/>, returning it with a lease on its new file.
    /// </summary>
    private LogSegment Roll(LogSegment old, SafeFileHandle oldHandle, long baseOffset, out SegmentLease lease)
    {
        TrimSpareRoom(oldHandle); // old is the active segment: its spare room goes before it closes (synced just below)
        NativeFile.FlushData(oldHandle);
        Interlocked.Increment(ref _syncCount);
        old.ReadableSize = old.Size;
        old.NextOffset = baseOffset;
        old.WriteIndexes(old.Size);
        old.File.Writable = false; // reopened read-only from now on

        var segment = new LogSegment(_directory, baseOffset, _handles, writable: true);
        bool preallocated = TryTakeSpare(segment.LogPath);
        _activePreallocated = preallocated;
        SafeFileHandle handle = File.OpenHandle(segment.LogPath, preallocated ? FileMode.Open : FileMode.Create, FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        try
        {
            NativeFile.FlushDirectory(_directory);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        segment.NextOffset = baseOffset;
        lease = segment.File.Adopt(handle);
        lock (_segmentsLock)
        {
            LogSegment[] current = _segments;
            var grown = new LogSegment[current.Length + 1];
            Array.Copy(current, grown, current.Length);
            grown[^1] = segment;
            Volatile.Write(ref _segments, grown);
            _active = segment;
        }

        _logger.LogDebug("partition log {Directory}: rolled to segment {Base}", _directory, baseOffset);
        return segment;
    }
}
