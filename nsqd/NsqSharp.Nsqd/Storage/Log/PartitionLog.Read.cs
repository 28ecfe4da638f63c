namespace NsqSharp.Nsqd.Storage;

// The read path: lock-free positional reads through leased handles and a BatchWalker (Storage/FORMAT.md, "Reading").
// Every reader names its bound (LogBound) and reads below it. Every returned record owns exactly its bytes, so a
// retained record pins nothing else. A reader snapshots the read generation first; if a truncation overtook it
// (TruncateToAsync), what it read is discarded and it retries, so it returns old data or nothing, never garbage.
public sealed partial class PartitionLog
{
    private const int MaxReadAttempts = 1000;

    private long _overtakenReads;

    /// <summary>Reads discarded and retried because a truncation overtook them (tests and diagnostics).</summary>
    internal long OvertakenReads => Interlocked.Read(ref _overtakenReads);

    /// <summary>Tests only: runs in <see cref="Read"/> once the segment is leased and the walk set up, before any byte
    /// is read (to hold a reader there while a truncation runs).</summary>
    internal Action? BeforeSegmentWalk { get; set; }

    /// <summary>
    /// Appends to <paramref name="into"/> up to <paramref name="maxMessages"/> records from <paramref name="offset"/>
    /// (clamped up to <see cref="StartOffset"/>) below <paramref name="bound"/>, stopping before the body bytes
    /// would exceed <paramref name="maxBytes"/> (at least one record is returned if any is available). Reads at
    /// most one segment per call. Each record's body (and headers) is its own exact-size array. Returns the number
    /// appended; 0 only when nothing is readable at or after the offset. Offsets may skip (retention, corruption).
    /// </summary>
    public int Read(long offset, int maxMessages, int maxBytes, LogBound bound, List<LogRecord> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (maxMessages <= 0)
        {
            return 0;
        }

        for (int attempt = 0; attempt < MaxReadAttempts; attempt++)
        {
            ReadGeneration generation = _generation.Snapshot();
            long limit = Bound(bound);
            LogSegment[] segments = Volatile.Read(ref _segments);
            if (offset < segments[0].BaseOffset)
            {
                offset = segments[0].BaseOffset;
            }

            if (offset >= limit)
            {
                return 0;
            }

            int index = FindSegment(segments, offset);
            LogSegment segment = segments[index];
            long segmentEnd = index + 1 < segments.Length ? segments[index + 1].BaseOffset : long.MaxValue;
            int before = into.Count;
            int added;
            try
            {
                added = ReadSegment(segment, offset, Math.Min(limit, segmentEnd), UpperBound(segmentEnd), maxMessages, maxBytes, generation, into);
            }
            catch (ObjectDisposedException) when (!_disposed)
            {
                into.RemoveRange(before, into.Count - before);
                continue; // segment deleted (retention) or replaced (truncation) meanwhile: retry
            }

            if (!generation.IsCurrent)
            {
                into.RemoveRange(before, into.Count - before);
                Interlocked.Increment(ref _overtakenReads);
                continue; // a truncation overtook this read
            }

            if (added > 0)
            {
                return added;
            }

            // Nothing readable at or after offset in this segment (its end, or lost records): on to the next one.
            if (segmentEnd == long.MaxValue)
            {
                return 0;
            }

            offset = segmentEnd;
        }

        return 0;
    }

    private static int FindSegment(LogSegment[] segments, long offset)
    {
        int lo = 0;
        int hi = segments.Length - 1;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi + 1) >> 1);
            if (segments[mid].BaseOffset <= offset)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    /// <summary>No offset of a segment ending at <paramref name="segmentEnd"/> (MaxValue: the active one) is at or above this.</summary>
    private long UpperBound(long segmentEnd) => segmentEnd != long.MaxValue ? segmentEnd : Volatile.Read(ref _nextOffset);

    private BatchWalker Walk(LogSegment segment, SegmentLease lease, long fromOffset, long upper, ReadGeneration generation)
    {
        (long anchorOffset, long anchorPosition) = segment.FloorEntry(fromOffset);
        return new BatchWalker(segment, lease.Handle, segment.ReadableSize, anchorPosition, anchorOffset, upper, useAnchors: true, _corruption,
            ScratchBytes, generation);
    }

    private void ReportTailDamage(LogSegment segment, BatchWalker walker, long upper, ReadGeneration generation)
    {
        if (walker.TailDamage >= 0 && generation.IsCurrent)
        {
            _corruption.ReportTail(segment, walker.TailDamage, segment.ReadableSize, walker.TailProblem!, walker.ExpectedOffset, upper);
        }
    }

    private int ReadSegment(LogSegment segment, long offset, long bound, long upper, int maxMessages, int maxBytes, ReadGeneration generation,
        List<LogRecord> into)
    {
        if (segment.ReadableSize < LogFormat.BatchHeaderSize)
        {
            return 0;
        }

        using SegmentLease lease = segment.File.Acquire();
        using BatchWalker walker = Walk(segment, lease, offset, upper, generation);
        BeforeSegmentWalk?.Invoke();
        int added = 0;
        long bodyBytes = 0;
        while (walker.MoveNext())
        {
            if (walker.Offset >= bound)
            {
                return added;
            }

            if (walker.NextOffset <= offset)
            {
                continue;
            }

            if (added == 0)
            {
                walker.ReadAhead = EstimateReadAhead(walker, offset, maxMessages, maxBytes);
            }

            ReadOnlySpan<byte> batch = walker.Batch;
            var records = new RecordReader(batch, walker.Header.Count);
            while (records.MoveNext(out int bodyStart, out int bodyLength, out int headersStart, out int headersLength, out long timestampNs, out long deliverAtMs, out ushort flags))
            {
                long recordOffset = walker.Offset + records.Index - 1;
                if (recordOffset < offset)
                {
                    continue;
                }

                if (recordOffset >= bound || (added > 0 && bodyBytes + bodyLength > maxBytes))
                {
                    return added;
                }

                into.Add(new LogRecord(
                    recordOffset,
                    timestampNs,
                    deliverAtMs,
                    Copy(batch, bodyStart, bodyLength),
                    headersLength == 0 ? default : Copy(batch, headersStart, headersLength),
                    flags));
                added++;
                bodyBytes += bodyLength;
                if (added >= maxMessages)
                {
                    return added;
                }
            }
        }

        ReportTailDamage(segment, walker, upper, generation);
        return added;
    }

    /// <summary>Bytes to read past the first useful batch: its per-message size times what is still wanted, bounded.</summary>
    private static int EstimateReadAhead(BatchWalker walker, long offset, int maxMessages, int maxBytes)
    {
        long firstUseful = walker.NextOffset - Math.Max(offset, walker.Offset);
        long stillWanted = maxMessages - firstUseful;
        if (stillWanted <= 0)
        {
            return ScratchBytes;
        }

        long perMessage = (walker.Length / walker.Header.Count) + 1; // batch header amortized
        long extra = Math.Min(
            (stillWanted * perMessage) + (stillWanted * perMessage / 4) + 256,
            (long)maxBytes + (Math.Min(stillWanted, 1 << 20) * LogFormat.RecordHeaderSize) + LogFormat.BatchHeaderSize);
        return (int)Math.Clamp(extra, ScratchBytes, MaxReadBytes);
    }

    /// <summary>An exact-size copy: the record must not keep the (pooled, much larger) read window alive.</summary>
    private static byte[] Copy(ReadOnlySpan<byte> batch, int start, int length)
    {
        if (length == 0)
        {
            return [];
        }

        byte[] owned = GC.AllocateUninitializedArray<byte>(length);
        batch.Slice(start, length).CopyTo(owned);
        return owned;
    }

    /// <summary>
    /// Reads the single record at <paramref name="offset"/> below <paramref name="bound"/> (redelivery of requeued and
    /// deferred messages). The body is its own array. False if the offset was deleted by retention, truncated, lost to
    /// corruption or is not below the bound.
    /// </summary>
    public bool TryRead(long offset, LogBound bound, out LogRecord record)
    {
        record = default;
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int attempt = 0; attempt < MaxReadAttempts; attempt++)
        {
            ReadGeneration generation = _generation.Snapshot();
            long limit = Bound(bound);
            LogSegment[] segments = Volatile.Read(ref _segments);
            if (offset < segments[0].BaseOffset || offset >= limit)
            {
                return false;
            }

            int index = FindSegment(segments, offset);
            bool found;
            try
            {
                found = TryReadInSegment(segments[index], offset,
                    UpperBound(index + 1 < segments.Length ? segments[index + 1].BaseOffset : long.MaxValue), generation, out record);
            }
            catch (ObjectDisposedException) when (!_disposed)
            {
                continue; // deleted by retention (the next attempt sees the new start) or replaced by a truncation
            }

            if (generation.IsCurrent)
            {
                return found;
            }

            record = default;
            Interlocked.Increment(ref _overtakenReads);
        }

        return false;
    }

    private bool TryReadInSegment(LogSegment segment, long offset, long upper, ReadGeneration generation, out LogRecord record)
    {
        record = default;
        using SegmentLease lease = segment.File.Acquire();
        using BatchWalker walker = Walk(segment, lease, offset, upper, generation);
        while (walker.MoveNext())
        {
            if (walker.NextOffset <= offset)
            {
                continue;
            }

            if (walker.Offset > offset)
            {
                return false; // lost to corruption
            }

            ReadOnlySpan<byte> batch = walker.Batch;
            var records = new RecordReader(batch, walker.Header.Count);
            while (records.MoveNext(out int bodyStart, out int bodyLength, out int headersStart, out int headersLength, out long timestampNs, out long deliverAtMs, out ushort flags))
            {
                if (walker.Offset + records.Index - 1 == offset)
                {
                    record = new LogRecord(
                        offset,
                        timestampNs,
                        deliverAtMs,
                        Copy(batch, bodyStart, bodyLength),
                        headersLength == 0 ? default : Copy(batch, headersStart, headersLength),
                        flags);
                    return true;
                }
            }

            return false;
        }

        ReportTailDamage(segment, walker, upper, generation);
        return false;
    }

    /// <summary>
    /// First offset below <paramref name="bound"/> whose record timestamp is &gt;= <paramref name="timestampMs"/> (unix
    /// ms); the bound's value if every record below it is older. Offsets below <see cref="StartOffset"/> are never returned.
    /// </summary>
    public long FindOffsetByTime(long timestampMs, LogBound bound)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long target = timestampMs >= long.MaxValue / 1_000_000 ? long.MaxValue
            : timestampMs <= long.MinValue / 1_000_000 ? long.MinValue
            : timestampMs * 1_000_000;
        for (int attempt = 0; attempt < MaxReadAttempts; attempt++)
        {
            ReadGeneration generation = _generation.Snapshot();
            long limit = Bound(bound);
            long found = FindByTime(target, limit, generation);
            if (generation.IsCurrent)
            {
                return found;
            }

            Interlocked.Increment(ref _overtakenReads);
        }

        return Bound(bound);
    }

    private long FindByTime(long target, long limit, ReadGeneration generation)
    {
        LogSegment[] segments = Volatile.Read(ref _segments);
        for (int i = 0; i < segments.Length; i++)
        {
            LogSegment segment = segments[i];
            if (segment.BaseOffset >= limit)
            {
                break;
            }

            if (segment.MaxTimestampNs < target)
            {
                continue;
            }

            try
            {
                long found = FindInSegment(segment, UpperBound(i + 1 < segments.Length ? segments[i + 1].BaseOffset : long.MaxValue), target, limit, generation);
                if (found >= 0)
                {
                    return found;
                }
            }
            catch (ObjectDisposedException) when (!_disposed)
            {
                // deleted by retention: the next segment is the answer's lower bound
            }
        }

        return limit;
    }

    private long FindInSegment(LogSegment segment, long upper, long target, long limit, ReadGeneration generation)
    {
        if (segment.ReadableSize < LogFormat.BatchHeaderSize)
        {
            return -1;
        }

        using SegmentLease lease = segment.File.Acquire();
        using BatchWalker walker = Walk(segment, lease, segment.TimeFloorOffset(target), upper, generation);
        while (walker.MoveNext())
        {
            if (walker.Offset >= limit)
            {
                return -1;
            }

            if (walker.Header.MaxTimestampNs < target)
            {
                continue;
            }

            var records = new RecordReader(walker.Batch, walker.Header.Count);
            while (records.MoveNext(out _, out _, out _, out _, out long timestampNs, out _, out _))
            {
                if (timestampNs >= target)
                {
                    long offset = walker.Offset + records.Index - 1;
                    return offset < limit ? offset : limit;
                }
            }
        }

        ReportTailDamage(segment, walker, upper, generation);
        return -1;
    }
}
