using System.Buffers;

namespace NsqSharp.Nsqd.Storage;

// What a replication leader and its followers need from the log: whole batches as stored (a leader serving a fetch),
// verbatim appends keeping the leader's offsets and epochs (a follower), and the leader-epoch cache (KIP-101).
public sealed partial class PartitionLog
{
    /// <summary>Latest leader epoch with data in this log; -1 when it holds none (an empty new log).</summary>
    public long LatestEpoch => _epochs.LatestEpoch;

    /// <summary>The leader-epoch cache: every epoch that wrote to this log with its first offset, oldest first.</summary>
    public IReadOnlyList<EpochEntry> LeaderEpochs => _epochs.Entries;

    /// <summary>
    /// Where <paramref name="epoch"/> ends in this log (KIP-101, a leader answering a follower that lost leadership or
    /// restarted): the start offset of the next higher epoch, or <see cref="LogEnd"/> for the latest epoch; with the
    /// largest known epoch at or below the one asked. For an epoch below the earliest known one it returns (that epoch,
    /// the earliest entry's start offset); for one above the latest, or with no epochs yet, <see cref="EpochEndOffset.Undefined"/>.
    /// See <see cref="LeaderEpochCache.EndOffsetFor"/>.
    /// </summary>
    public EpochEndOffset EndOffsetForEpoch(long epoch) => _epochs.EndOffsetFor(epoch, LogEnd);

    /// <summary>
    /// Whole batches as stored, from the batch holding <paramref name="offset"/> (clamped up to <see cref="StartOffset"/>)
    /// while they fit in <paramref name="maxBytes"/> (the first batch is returned even if larger), each entirely below
    /// <paramref name="bound"/>, from one segment per call, contiguous. No re-encoding: the bytes are the file's, CRCs
    /// intact, except that the base offset and length fields (not covered by the CRC) are the ones the reader verified
    /// (they differ from the stored ones only where the header was damaged and repaired by continuity). Empty when
    /// nothing is readable there. The caller disposes the result (a pooled buffer, see <see cref="RawBatches"/>).
    /// </summary>
    public RawBatches ReadRawBatches(long offset, int maxBytes, LogBound bound)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
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
                return RawBatches.Empty(offset);
            }

            int index = FindSegment(segments, offset);
            LogSegment segment = segments[index];
            long segmentEnd = index + 1 < segments.Length ? segments[index + 1].BaseOffset : long.MaxValue;
            RawBatches? result;
            try
            {
                result = ReadRawInSegment(segment, offset, Math.Min(limit, segmentEnd), UpperBound(segmentEnd), maxBytes, generation);
            }
            catch (ObjectDisposedException) when (!_disposed)
            {
                continue; // deleted by retention or replaced by a truncation meanwhile: retry
            }

            if (!generation.IsCurrent)
            {
                result?.Dispose();
                Interlocked.Increment(ref _overtakenReads);
                continue;
            }

            if (result is not null)
            {
                return result;
            }

            if (segmentEnd == long.MaxValue || segmentEnd >= limit)
            {
                return RawBatches.Empty(offset);
            }

            offset = segmentEnd; // nothing readable at or after offset in this segment
        }

        return RawBatches.Empty(offset);
    }

    private RawBatches? ReadRawInSegment(LogSegment segment, long offset, long limit, long upper, int maxBytes, ReadGeneration generation)
    {
        if (segment.ReadableSize < LogFormat.BatchHeaderSize)
        {
            return null;
        }

        using SegmentLease lease = segment.File.Acquire();
        using BatchWalker walker = Walk(segment, lease, offset, upper, generation);
        walker.ReadAhead = (int)Math.Clamp((long)maxBytes + LogFormat.BatchHeaderSize, ScratchBytes, MaxReadBytes);
        byte[]? buffer = null;
        int length = 0;
        int batches = 0;
        long first = -1;
        long next = -1;
        try
        {
            while (walker.MoveNext())
            {
                if (walker.NextOffset <= offset)
                {
                    continue;
                }

                if (walker.NextOffset > limit || (batches > 0 && (walker.Offset != next || (long)length + walker.Length > maxBytes)))
                {
                    break; // past the bound, a gap (lost to corruption: the next call starts there), or full
                }

                if (buffer is null || length + walker.Length > buffer.Length)
                {
                    // First batch: room for it or up to 1 MiB of what was asked; then double, never past maxBytes
                    // (a later batch is only taken when it fits in maxBytes).
                    long want = buffer is null
                        ? Math.Max(walker.Length, Math.Min(maxBytes, 1 << 20))
                        : Math.Min(Math.Max((long)buffer.Length * 2, (long)length + walker.Length), maxBytes);
                    byte[] grown = ArrayPool<byte>.Shared.Rent((int)want);
                    if (buffer is not null)
                    {
                        buffer.AsSpan(0, length).CopyTo(grown);
                        ArrayPool<byte>.Shared.Return(buffer);
                    }

                    buffer = grown;
                }

                Span<byte> copy = buffer.AsSpan(length, walker.Length);
                walker.Batch.CopyTo(copy);
                LogFormat.StampBatch(copy, walker.Offset, walker.Header.LeaderEpoch);
                LogFormat.StampLength(copy, walker.Length);
                if (batches == 0)
                {
                    first = walker.Offset;
                }

                length += walker.Length;
                next = walker.NextOffset;
                batches++;
            }

            if (batches == 0)
            {
                ReportTailDamage(segment, walker, upper, generation);
                return null;
            }

            var result = new RawBatches(buffer, length, first, next, batches);
            buffer = null;
            return result;
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// A follower appends its leader's batches verbatim (from <see cref="ReadRawBatches"/> on the leader), keeping their
    /// base offsets and leader epochs. Every batch is checked first (magic, version, length, CRC, records; offsets
    /// continuous, epochs never decreasing): InvalidDataException. The first must start exactly at the log's end when
    /// the writer reaches it (<see cref="LogContinuityException"/> otherwise) and carry no epoch below the log's latest
    /// (InvalidOperationException: truncate first). Group-committed and synced like normal appends; completes on the
    /// log end (never waits for the high watermark: a follower learns that from its leader). The bytes are copied
    /// before this returns. New epochs enter the leader-epoch cache.
    /// </summary>
    public ValueTask<AppendResult> AppendRawBatchesAsync(ReadOnlyMemory<byte> batches, CancellationToken ct = default)
    {
        if (batches.Length > PartitionLogOptions.MaxBatchBytes)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException($"{batches.Length} bytes of batches exceed the limit of {PartitionLogOptions.MaxBatchBytes}", nameof(batches)));
        }

        RawBatchSummary summary;
        try
        {
            summary = LogFormat.ValidateRawBatches(batches.Span);
        }
        catch (InvalidDataException e)
        {
            return ValueTask.FromException<AppendResult>(e);
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(batches.Length);
        batches.Span.CopyTo(buffer);
        return Enqueue(AppendKind.Raw, buffer, batches.Length, summary.Records, summary.FirstOffset, summary.FirstEpoch, ct);
    }
}
