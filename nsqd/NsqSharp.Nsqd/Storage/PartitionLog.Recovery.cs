using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

// Recovery on open (see the file comment of PartitionLog.cs). Each segment is read through a private handle that
// is closed again at once: a log that is opened and then left idle holds no file descriptor.
public sealed partial class PartitionLog
{
    private const int RecoveryReadAhead = 1 << 20;

    private static void RecoverClosedSegment(LogSegment segment, long nextBase, PartitionLogOptions options, CorruptionLog corruption, ILogger logger)
    {
        using SafeFileHandle handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(handle);
        if (!segment.TryLoadIndexes(handle, length))
        {
            segment.ResetIndexes();
            using (var walker = new BatchWalker(segment, handle, length, 0, segment.BaseOffset, nextBase, useAnchors: false, corruption, RecoveryReadAhead))
            {
                while (walker.MoveNext())
                {
                    segment.OnBatch(walker.Position, walker.Offset, walker.Length, walker.Header.MaxTimestampNs, options.IndexIntervalBytes);
                }

                segment.Size = length;
                segment.ReadableSize = walker.ValidEnd;
                segment.NextOffset = walker.ExpectedOffset;
                if (walker.TailDamage >= 0)
                {
                    // A closed segment was complete when it rolled: damage at its end is corruption, not a torn write.
                    corruption.ReportTail(segment, walker.TailDamage, length, walker.TailProblem!, walker.ExpectedOffset, nextBase);
                }
            }

            logger.LogInformation("partition log segment {Path}: index rebuilt", segment.LogPath);
            segment.WriteIndexes(segment.ReadableSize);
        }

        if (segment.NextOffset > nextBase)
        {
            logger.LogError("partition log segment {Path} ends at offset {End}, past the next segment's base {Next}; the overlap is ignored",
                segment.LogPath, segment.NextOffset, nextBase);
        }
    }

    /// <summary>
    /// The last segment may end in a torn write (a crash mid-append): bytes after the last valid batch that hold no
    /// valid batch are truncated. Damage followed by valid batches is not a torn tail (those batches were fsynced,
    /// so acknowledged): it is skipped like any corruption and the later batches are kept.
    /// </summary>
    private static void RecoverLastSegment(LogSegment segment, PartitionLogOptions options, CorruptionLog corruption, ILogger logger)
    {
        using SafeFileHandle handle = File.OpenHandle(segment.LogPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(handle);
        long scanFrom = 0;
        long scanOffset = segment.BaseOffset;
        bool trusted = segment.TryLoadIndexes(handle, length);
        if (trusted)
        {
            // Clean shutdown: the indexes describe this exact file. Verify only the tail after the last entry.
            ReadOnlySpan<TimeIndexEntry> times = segment.TimeIndex.Snapshot();
            ReadOnlySpan<OffsetIndexEntry> offsets = segment.OffsetIndex.Snapshot();
            if (offsets.Length > 0)
            {
                scanFrom = offsets[^1].Position;
                scanOffset = segment.BaseOffset + offsets[^1].RelOffset;
                segment.MaxTimestampNs = times[^1].MaxTimestampNs;
            }
            else
            {
                segment.MaxTimestampNs = long.MinValue;
            }
        }
        else
        {
            segment.ResetIndexes();
        }

        long validEnd;
        using (var walker = new BatchWalker(segment, handle, length, scanFrom, scanOffset, long.MaxValue, useAnchors: false, corruption, RecoveryReadAhead))
        {
            while (walker.MoveNext())
            {
                segment.OnBatch(walker.Position, walker.Offset, walker.Length, walker.Header.MaxTimestampNs, options.IndexIntervalBytes);
            }

            validEnd = walker.ValidEnd;
            segment.NextOffset = walker.ExpectedOffset;
            segment.Size = validEnd;
            segment.ReadableSize = validEnd;
            if (validEnd < length)
            {
                logger.LogWarning(
                    "partition log {Path}: {Problem} at byte {Position}; truncating {Bytes} bytes of torn/corrupt tail (log ends at offset {End})",
                    segment.LogPath, walker.TailProblem ?? "unreadable bytes", walker.TailDamage >= 0 ? walker.TailDamage : validEnd,
                    length - validEnd, walker.ExpectedOffset);
            }
        }

        if (validEnd < length)
        {
            RandomAccess.SetLength(handle, validEnd);
            NativeFile.FlushData(handle);
            segment.ForgetDamageFrom(validEnd);
        }

        if (!trusted || validEnd < length)
        {
            // The on-disk indexes (if any) no longer describe the file; they are rewritten on roll or clean close.
            segment.DeleteIndexFiles();
        }
    }
}
