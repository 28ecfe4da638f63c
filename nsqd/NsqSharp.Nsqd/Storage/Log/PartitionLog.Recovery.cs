using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

// Open and recovery (Storage/FORMAT.md, "Recovery"). Each segment is read through a private handle that is closed
// again at once: a log that is opened and then left idle holds no file descriptor.
public sealed partial class PartitionLog
{
    private const int RecoveryReadAhead = 1 << 20;

    /// <summary>Opens (creating if needed) the log in <paramref name="directory"/> and recovers it (Storage/FORMAT.md).</summary>
    public static PartitionLog Open(string directory, int partition, PartitionLogOptions options, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        directory = Path.GetFullPath(directory);
        lock (OpenDirectories)
        {
            if (!OpenDirectories.Add(directory))
            {
                throw new IOException($"partition log {directory} is already open");
            }
        }

        try
        {
            NativeFile.CreateDirectory(directory);
            LogSegment.TryDelete(Path.Combine(directory, ".lock")); // left by versions that locked every partition
            foreach (string tmp in System.IO.Directory.EnumerateFiles(directory, "*.tmp"))
            {
                LogSegment.TryDelete(tmp);
            }

            List<long> bases = ListSegmentBases(directory);
            RemoveOrphanIndexes(directory, bases);
            if (bases.Count == 0)
            {
                bases.Add(0);
            }

            LeaderEpochCache epochs = LeaderEpochCache.Load(directory, out string? epochProblem);
            if (epochProblem is not null)
            {
                logger.LogError("partition log {Directory}: leader-epoch checkpoint unusable ({Problem}); rebuilding it from the log tail",
                    directory, epochProblem);
            }

            SegmentHandleCache handles = options.HandleCache ?? SegmentHandleCache.Shared;
            var corruption = new CorruptionLog(logger);
            var segments = new LogSegment[bases.Count];
            for (int i = 0; i < bases.Count; i++)
            {
                bool last = i == bases.Count - 1;
                var segment = new LogSegment(directory, bases[i], handles, writable: last);
                segments[i] = segment;
                if (last)
                {
                    bool created = !File.Exists(segment.LogPath);
                    RecoverLastSegment(segment, options, corruption, logger, epochs, bases[0]);
                    if (created)
                    {
                        NativeFile.FlushDirectory(directory);
                    }
                }
                else
                {
                    RecoverClosedSegment(segment, bases[i + 1], options, corruption, logger);
                }
            }

            long? hw = null;
            if (!options.HighWatermarkFollowsLogEnd)
            {
                hw = ReadHighWatermarkCheckpoint(directory, out string? hwProblem);
                if (hwProblem is not null)
                {
                    logger.LogWarning("partition log {Directory}: high-watermark checkpoint unusable ({Problem}); consumers wait for the leader to confirm the log again",
                        directory, hwProblem);
                }
            }

            return new PartitionLog(directory, partition, options, logger, handles, corruption, segments, epochs, hw);
        }
        catch
        {
            lock (OpenDirectories)
            {
                OpenDirectories.Remove(directory);
            }

            throw;
        }
    }

    private static List<long> ListSegmentBases(string directory)
    {
        var bases = new List<long>();
        foreach (string file in System.IO.Directory.EnumerateFiles(directory, "*.log"))
        {
            if (TryParseBase(file, out long baseOffset))
            {
                bases.Add(baseOffset);
            }
        }

        bases.Sort();
        return bases;
    }

    private static bool TryParseBase(string file, out long baseOffset)
    {
        string name = Path.GetFileNameWithoutExtension(file);
        baseOffset = 0;
        return name.Length == 20
            && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset);
    }

    private static void RemoveOrphanIndexes(string directory, List<long> bases)
    {
        foreach (string pattern in (ReadOnlySpan<string>)["*.index", "*.timeindex"])
        {
            foreach (string file in System.IO.Directory.EnumerateFiles(directory, pattern))
            {
                if (TryParseBase(file, out long baseOffset) && bases.BinarySearch(baseOffset) < 0)
                {
                    LogSegment.TryDelete(file);
                }
            }
        }
    }

    private static void RecoverClosedSegment(LogSegment segment, long nextBase, PartitionLogOptions options, CorruptionLog corruption, ILogger logger)
    {
        using SafeFileHandle handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(handle);
        if (!segment.TryLoadIndexes(handle, length))
        {
            segment.ResetIndexes();
            var epochs = new EpochScan(corruption, previous: -1);
            using (var walker = new BatchWalker(segment, handle, length, 0, segment.BaseOffset, nextBase, useAnchors: false, corruption, RecoveryReadAhead))
            {
                while (walker.MoveNext())
                {
                    segment.OnBatch(walker.Position, walker.Offset, walker.Header.MaxTimestampNs, options.IndexIntervalBytes);
                    epochs.OnBatch(segment, walker);
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
    /// so acknowledged): it is skipped like any corruption and the later batches are kept. The epochs the scan meets
    /// are the truth for the scanned range: the leader-epoch cache is reconciled with them.
    /// </summary>
    private static void RecoverLastSegment(LogSegment segment, PartitionLogOptions options, CorruptionLog corruption, ILogger logger,
        LeaderEpochCache epochCache, long logStart)
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
        var epochs = new EpochScan(corruption, previous: epochCache.EpochAt(scanOffset - 1)) { Record = true };
        // A replica's acknowledged data always has its epoch in the checkpoint first (written before the ack), so a batch
        // of a later epoch starts an unacknowledged tail, or carries a damaged epoch field (not covered by the CRC: the
        // chaos harness's bit flip made epoch 37 into 134217765, and the follower then truncated its whole log). Cut there.
        long checkpointedEpoch = options.TruncateAtCorruption && epochCache.Entries is [.., var lastEntry] ? lastEntry.Epoch : long.MaxValue;
        long cutPosition = -1, cutOffset = -1;
        using (var walker = new BatchWalker(segment, handle, length, scanFrom, scanOffset, long.MaxValue, useAnchors: false, corruption, RecoveryReadAhead)
        {
            StopAtDamage = options.TruncateAtCorruption,
        })
        {
            while (walker.MoveNext())
            {
                if (walker.Header.LeaderEpoch > checkpointedEpoch)
                {
                    (cutPosition, cutOffset) = (walker.Position, walker.Offset);
                    logger.LogWarning("partition log {Path}: batch at byte {Position} (offset {Offset}) has leader epoch {Epoch}, past the checkpoint's {Checkpointed}: an unacknowledged or damaged tail; cutting it (the leader has it)",
                        segment.LogPath, walker.Position, walker.Offset, walker.Header.LeaderEpoch, checkpointedEpoch);
                    break;
                }

                segment.OnBatch(walker.Position, walker.Offset, walker.Header.MaxTimestampNs, options.IndexIntervalBytes);
                epochs.OnBatch(segment, walker);
            }

            validEnd = cutPosition >= 0 ? cutPosition : walker.ValidEnd;
            segment.NextOffset = cutPosition >= 0 ? cutOffset : walker.ExpectedOffset;
            segment.Size = validEnd;
            segment.ReadableSize = validEnd;
            bool droppedTail = validEnd < length && cutPosition < 0;
            if (droppedTail && LooksPreallocated(handle, validEnd, length))
            {
                // A crash in a preallocated segment (PartitionLog.Preallocation.cs): its spare room, no damage.
                logger.LogInformation("partition log {Path}: dropping {Bytes} bytes of preallocated space after the last batch (log ends at offset {End})",
                    segment.LogPath, length - validEnd, walker.ExpectedOffset);
            }
            else if (droppedTail)
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

        bool hadCheckpoint = File.Exists(epochCache.Path);
        EpochEntry[] before = epochCache.Entries;
        if (epochCache.Reconcile(scanOffset, epochs.Transitions, logStart) || epochCache.IsDirty)
        {
            logger.Log(hadCheckpoint ? LogLevel.Warning : LogLevel.Information,
                "partition log {Directory}: leader-epoch cache {What} from the log tail (was [{Before}], now [{After}])",
                Path.GetDirectoryName(segment.LogPath), hadCheckpoint ? "corrected" : "created", string.Join(", ", before), string.Join(", ", epochCache.Entries));
            epochCache.Persist();
        }
    }

    /// <summary>
    /// Follows the leader epochs of the batches a recovery scan meets: they never go down. A batch whose epoch is
    /// below its predecessor's (the field is not covered by the CRC) is reported as corruption (counted with the
    /// repaired headers, logged) and its epoch ignored; its records are intact and kept.
    /// </summary>
    private sealed class EpochScan(CorruptionLog corruption, long previous)
    {
        private long _previous = previous;

        /// <summary>Collect <see cref="Transitions"/> (the last segment's scan).</summary>
        public bool Record { get; init; }

        /// <summary>Each epoch change met, in order, with the offset of its first batch.</summary>
        public List<EpochEntry> Transitions { get; } = [];

        public void OnBatch(LogSegment segment, BatchWalker walker)
        {
            long epoch = walker.Header.LeaderEpoch;
            if (epoch < _previous || epoch < 0)
            {
                corruption.Report(segment, new Corruption(CorruptionKind.EpochRegressed, walker.Position, walker.Position + walker.Length,
                    "leader epoch went down (not covered by the CRC)", _previous, epoch));
                return;
            }

            if (epoch > _previous)
            {
                _previous = epoch;
                if (Record)
                {
                    Transitions.Add(new EpochEntry(epoch, walker.Offset));
                }
            }
        }
    }
}
