using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

// TruncateToAsync: a follower dropping what its new leader does not have (KIP-101), queued to the writer so it
// serializes with appends. Order of steps, chosen for concurrent readers and for crashes:
//   1. publish the cut: the new segment list (the cut segment replaced by a truncated copy) and lowered bounds;
//   2. advance the read generation: a reader that started before step 1 discards what it read and retries;
//   3. change files: later segments deleted newest first (so a crash leaves a prefix), directory fsynced, then the cut
//      segment's file truncated and fdatasynced, its stale index files removed;
//   4. the leader-epoch cache truncated and written.
// A crash before step 3 completes leaves the longer log (the caller truncates again); recovery repairs a cache that
// is ahead of the log. Nothing is woken: no bound advanced.
public sealed partial class PartitionLog
{
    /// <summary>
    /// Drops every record at and after <paramref name="offset"/>: later segments are deleted and the segment holding it
    /// is cut at a batch boundary. An offset in the middle of a batch (an MPUB) cuts at that batch's start, so the log
    /// may end below <paramref name="offset"/>; an offset at or below <see cref="StartOffset"/> empties the log (it then
    /// ends at StartOffset); one at or past the end changes nothing. Returns the log's end afterwards. Durable before it completes (file and
    /// directory fsynced, epoch cache written). Both bounds clamp down to the new end (wakes no listener); own appends
    /// still waiting for the high watermark past it fail. Runs on the writer, in queue order with appends.
    /// </summary>
    public async ValueTask<long> TruncateToAsync(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        AppendRequest request = RentRequest();
        request.Kind = AppendKind.Truncate;
        request.Buffer = null;
        request.Length = 0;
        request.Count = 0;
        request.FirstOffset = offset;
        lock (_queueLock)
        {
            if (RefuseReason() is { } error)
            {
                ReturnRequest(request);
                throw error;
            }

            AddLocked(request);
        }

        AppendResult result = await new ValueTask<AppendResult>(request, request.Version).ConfigureAwait(false);
        return result.FirstOffset;
    }

    /// <summary>
    /// Empties the log and restarts it at <paramref name="startOffset"/> (Kafka's truncateFullyAndStartAt): a follower
    /// whose log ends below its leader's log start (retention deleted what it would copy next) cannot continue its own
    /// log, so it drops it and copies on from the leader's start. Offsets below it are gone (the leader no longer has
    /// them either). Both bounds become <paramref name="startOffset"/>; durable before it completes. A start at or
    /// below the log end is refused (ArgumentOutOfRangeException): that is a truncation.
    /// </summary>
    public async ValueTask ResetToAsync(long startOffset)
    {
        if (startOffset <= LogEnd)
        {
            throw new ArgumentOutOfRangeException(nameof(startOffset), startOffset, $"a reset must start past the log end {LogEnd}");
        }

        AppendRequest request = RentRequest();
        request.Kind = AppendKind.Truncate;
        request.Buffer = null;
        request.Length = 0;
        request.Count = ResetMarker;
        request.FirstOffset = startOffset;
        lock (_queueLock)
        {
            if (RefuseReason() is { } error)
            {
                ReturnRequest(request);
                throw error;
            }

            AddLocked(request);
        }

        await new ValueTask<AppendResult>(request, request.Version).ConfigureAwait(false);
    }

    /// <summary>A truncation request with this count is a reset (<see cref="ResetToAsync"/>).</summary>
    private const int ResetMarker = -1;

    /// <summary>Writer: performs a queued truncation.</summary>
    private void Truncate(AppendRequest request)
    {
        try
        {
            if (_health is not null)
            {
                throw new IOException($"partition log {_directory} is unhealthy: {_health}");
            }

            long newEnd;
            lock (_segmentsLock) // retention must not delete a segment under the cut
            {
                newEnd = request.Count == ResetMarker ? ResetLocked(request.FirstOffset) : TruncateLocked(request.FirstOffset);
            }

            request.SetResult(new AppendResult(newEnd, 0));
        }
        catch (Exception e)
        {
            if (_health is null)
            {
                MarkUnhealthy("truncation failed", e);
            }

            request.SetException(new IOException($"partition log {_directory}: truncation failed: {_health}", e));
        }
    }

    private long TruncateLocked(long target)
    {
        LogSegment[] segments = _segments;
        target = Math.Max(target, segments[0].BaseOffset);
        long end = _nextOffset;
        if (target >= end)
        {
            return end;
        }

        int index = FindSegment(segments, target);
        LogSegment segment = segments[index];
        long upper = UpperBound(index + 1 < segments.Length ? segments[index + 1].BaseOffset : long.MaxValue);
        (long cut, long newEnd, long maxTimestampNs) = FindCut(segment, target, upper);

        // 1. Publish the cut.
        LogSegment replacement = segment.TruncatedCopy(_directory, _handles, cut, newEnd, maxTimestampNs);
        var kept = new LogSegment[index + 1];
        Array.Copy(segments, kept, index);
        kept[index] = replacement;
        Volatile.Write(ref _segments, kept);
        _active = replacement;
        _activePreallocated = false; // its file is cut at the new end just below
        long highWatermark = HighWatermark;
        Volatile.Write(ref _nextOffset, newEnd);
        LowerBounds(newEnd);

        // 2. Readers that started before step 1 may be reading what is about to change: they discard it.
        _generation.Advance();

        // 3. Files.
        for (int i = segments.Length - 1; i > index; i--)
        {
            segments[i].Delete();
        }

        segment.File.Close(); // no new leases of the old object; readers holding one finish on the same file
        if (segments.Length - 1 > index)
        {
            NativeFile.FlushDirectory(_directory);
        }

        replacement.DeleteIndexFiles(); // they describe the old length (the active segment's live in memory)
        SafeFileHandle handle = File.OpenHandle(replacement.LogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            RandomAccess.SetLength(handle, cut);
            NativeFile.FlushData(handle);
            Interlocked.Increment(ref _syncCount);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        replacement.File.Adopt(handle).Dispose(); // the cache keeps it for the next write
        _dirty = false;
        _unsyncedMessages = 0;
        _lastSyncTick = Environment.TickCount64;

        // 4. Epochs, then the appends that can no longer commit.
        if (_epochs.TruncateFromEnd(newEnd))
        {
            _epochs.Persist();
        }

        FailAwaitingHighWatermark(newEnd, new AppendTruncatedException(_directory, newEnd));
        _logger.Log(newEnd < highWatermark ? LogLevel.Warning : LogLevel.Information,
            "partition log {Directory}: truncated to offset {End} (asked {Target}; was {OldEnd}, high watermark {HighWatermark}); {Segments} later segments deleted",
            _directory, newEnd, target, end, highWatermark, segments.Length - 1 - index);
        return newEnd;
    }

    /// <summary>Writer: empty the log, then start a new segment at <paramref name="start"/> and drop the old ones.</summary>
    private long ResetLocked(long start)
    {
        long emptied = TruncateLocked(_segments[0].BaseOffset);
        if (start <= emptied)
        {
            return emptied;
        }

        using (SegmentLease lease = _active.File.Acquire())
        {
            Roll(_active, lease.Handle, start, out SegmentLease rolled);
            rolled.Dispose();
        }

        LogSegment[] all = _segments;
        Volatile.Write(ref _segments, [all[^1]]);
        _generation.Advance();
        for (int i = all.Length - 2; i >= 0; i--)
        {
            all[i].Delete();
        }

        NativeFile.FlushDirectory(_directory);
        Volatile.Write(ref _nextOffset, start);
        PublishLogEnd(start);
        if (!_hwFollowsLogEnd)
        {
            AdvanceHighWatermark(start);
        }

        _logger.LogWarning("partition log {Directory}: emptied and restarted at offset {Start} (the leader's log start)", _directory, start);
        return start;
    }

    /// <summary>Writer: where to cut <paramref name="segment"/> so no record at or after <paramref name="target"/> stays:
    /// the end of the last whole batch below it (damaged bytes before the cut's batch go too).</summary>
    private (long Position, long NextOffset, long MaxTimestampNs) FindCut(LogSegment segment, long target, long upper)
    {
        (long anchorOffset, long anchorPosition, long maxTimestampNs) = segment.FloorEntryWithTime(target);
        long cut = anchorPosition;
        long next = anchorOffset;
        if (segment.ReadableSize <= anchorPosition)
        {
            return (cut, next, maxTimestampNs);
        }

        using SegmentLease lease = segment.File.Acquire();
        using var walker = new BatchWalker(segment, lease.Handle, segment.ReadableSize, anchorPosition, anchorOffset, upper, useAnchors: true,
            _corruption, RecoveryReadAhead, _generation.Snapshot());
        while (walker.MoveNext())
        {
            if (walker.NextOffset > target)
            {
                break; // this batch holds the target (or follows a gap past it): cut before it
            }

            cut = walker.Position + walker.Length;
            next = walker.NextOffset;
            maxTimestampNs = Math.Max(maxTimestampNs, walker.Header.MaxTimestampNs);
        }

        return (cut, next, maxTimestampNs);
    }
}
