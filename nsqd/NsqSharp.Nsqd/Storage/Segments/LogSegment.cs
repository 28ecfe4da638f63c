using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// One segment: <c>&lt;base&gt;.log</c> plus its sparse indexes (in memory; persisted as <c>.index</c>/<c>.timeindex</c>
/// by <see cref="SegmentIndexFile"/> when the segment is closed or the log shuts down cleanly). The active segment is
/// written only by the partition's writer; everything readers use is published with volatile writes. The file's
/// handle is not held: <see cref="File"/> leases it from the log's <see cref="SegmentHandleCache"/>. A truncation
/// never changes a segment readers may hold: it replaces it with a <see cref="TruncatedCopy"/>.
/// </summary>
internal sealed class LogSegment
{
    private const int MaxTrackedDamage = 4096;

    private long _size;
    private long _readableSize;
    private long _nextOffset;
    private long _maxTimestampNs;
    private ConcurrentDictionary<long, long>? _resyncHints;
    private ConcurrentDictionary<(long, CorruptionKind), bool>? _reported;

    public LogSegment(string directory, long baseOffset, SegmentHandleCache cache, bool writable)
    {
        BaseOffset = baseOffset;
        string name = FileName(baseOffset);
        LogPath = Path.Combine(directory, name + ".log");
        IndexPath = Path.Combine(directory, name + ".index");
        TimeIndexPath = Path.Combine(directory, name + ".timeindex");
        File = new SegmentFile(cache, LogPath, writable);
        _nextOffset = baseOffset;
        _maxTimestampNs = long.MinValue;
    }

    public long BaseOffset { get; }
    public string LogPath { get; }
    public string IndexPath { get; }
    public string TimeIndexPath { get; }

    /// <summary>The <c>.log</c> file; lease its handle for each read or write.</summary>
    public SegmentFile File { get; }
    public AppendOnlyList<OffsetIndexEntry> OffsetIndex { get; private set; } = new();
    public AppendOnlyList<TimeIndexEntry> TimeIndex { get; private set; } = new();

    /// <summary>Writer only: position of the last index entry (0 = the implicit entry at the segment start).</summary>
    public long LastIndexedPosition { get; set; }

    /// <summary>Bytes written to the file.</summary>
    public long Size
    {
        get => Volatile.Read(ref _size);
        set => Volatile.Write(ref _size, value);
    }

    /// <summary>Bytes readers may read: the published part of the active segment, the well-formed part of a closed one.</summary>
    public long ReadableSize
    {
        get => Volatile.Read(ref _readableSize);
        set => Volatile.Write(ref _readableSize, value);
    }

    /// <summary>Offset after the last batch written (or recovered).</summary>
    public long NextOffset
    {
        get => Volatile.Read(ref _nextOffset);
        set => Volatile.Write(ref _nextOffset, value);
    }

    /// <summary>Newest record timestamp in the segment; long.MinValue when empty.</summary>
    public long MaxTimestampNs
    {
        get => Volatile.Read(ref _maxTimestampNs);
        set => Volatile.Write(ref _maxTimestampNs, value);
    }

    public static string FileName(long baseOffset) => baseOffset.ToString("D20", CultureInfo.InvariantCulture);

    /// <summary>True the first time a damaged spot is reported, so it is counted and logged once.</summary>
    public bool MarkReported(long position, CorruptionKind kind)
    {
        ConcurrentDictionary<(long, CorruptionKind), bool> reported = LazyInitializer.EnsureInitialized(ref _reported);
        // Bounded: past the cap every report counts again (over-counting beats hiding a disaster).
        return reported.Count >= MaxTrackedDamage || reported.TryAdd((position, kind), true);
    }

    /// <summary>Where a previous resync scan from the damaged batch at <paramref name="position"/> ended, if any.</summary>
    public long? ResyncHint(long position) =>
        _resyncHints is { } hints && hints.TryGetValue(position, out long resume) ? resume : null;

    /// <summary>Remembers where the scan after the damaged batch at <paramref name="position"/> found a batch (or gave up),
    /// so later readers passing it skip straight there.</summary>
    public void RememberResync(long position, long resume)
    {
        ConcurrentDictionary<long, long> hints = LazyInitializer.EnsureInitialized(ref _resyncHints);
        if (hints.Count < MaxTrackedDamage)
        {
            hints[position] = resume;
        }
    }

    /// <summary>Recovery truncated the file at <paramref name="position"/>: what was learnt about the bytes from there on
    /// no longer describes the file (new batches will be written there).</summary>
    public void ForgetDamageFrom(long position)
    {
        if (_resyncHints is { } hints)
        {
            foreach (long key in hints.Keys)
            {
                if (key >= position)
                {
                    hints.TryRemove(key, out _);
                }
            }
        }

        if (_reported is { } reported)
        {
            foreach ((long at, CorruptionKind kind) in reported.Keys)
            {
                if (at >= position)
                {
                    reported.TryRemove((at, kind), out _);
                }
            }
        }
    }

    /// <summary>Writer/recovery: account for a batch at <paramref name="position"/>, adding index entries per the interval rule.</summary>
    public void OnBatch(long position, long baseOffset, long batchMaxTimestampNs, int indexInterval)
    {
        if (position > LastIndexedPosition && position - LastIndexedPosition >= indexInterval)
        {
            int rel = checked((int)(baseOffset - BaseOffset));
            OffsetIndex.Add(new OffsetIndexEntry { RelOffset = rel, Position = checked((int)position) });
            TimeIndex.Add(new TimeIndexEntry { MaxTimestampNs = MaxTimestampNs, RelOffset = rel });
            LastIndexedPosition = position;
        }

        if (batchMaxTimestampNs > MaxTimestampNs)
        {
            MaxTimestampNs = batchMaxTimestampNs;
        }
    }

    /// <summary>Largest index entry at or below <paramref name="offset"/>: (its offset, its file position).</summary>
    public (long Offset, long Position) FloorEntry(long offset)
    {
        ReadOnlySpan<OffsetIndexEntry> entries = OffsetIndex.Snapshot();
        int found = FloorIndex(entries, offset);
        return found < 0 ? (BaseOffset, 0) : (BaseOffset + entries[found].RelOffset, entries[found].Position);
    }

    private int FloorIndex(ReadOnlySpan<OffsetIndexEntry> entries, long offset)
    {
        long rel = offset - BaseOffset;
        int lo = 0;
        int hi = entries.Length - 1;
        int found = -1;
        while (lo <= hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (entries[mid].RelOffset <= rel)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    /// <summary>An offset from which a scan for the first record with timestamp &gt;= ts may start (all earlier records are older).</summary>
    public long TimeFloorOffset(long timestampNs)
    {
        ReadOnlySpan<TimeIndexEntry> entries = TimeIndex.Snapshot();
        int lo = 0;
        int hi = entries.Length - 1;
        int found = -1;
        while (lo <= hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (entries[mid].MaxTimestampNs < timestampNs)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found < 0 ? BaseOffset : BaseOffset + entries[found].RelOffset;
    }

    /// <summary>
    /// Writer only (the writer's own index state is consistent): the index entry at or below <paramref name="offset"/>,
    /// with the newest timestamp of every record before it (long.MinValue at the segment start).
    /// </summary>
    public (long Offset, long Position, long MaxTimestampBeforeNs) FloorEntryWithTime(long offset)
    {
        ReadOnlySpan<OffsetIndexEntry> offsets = OffsetIndex.Snapshot();
        ReadOnlySpan<TimeIndexEntry> times = TimeIndex.Snapshot();
        int found = FloorIndex(offsets, offset);
        return found < 0 || found >= times.Length
            ? (BaseOffset, 0, long.MinValue)
            : (BaseOffset + offsets[found].RelOffset, offsets[found].Position, times[found].MaxTimestampNs);
    }

    /// <summary>
    /// Writer only: a new object for this segment's file cut at <paramref name="position"/> (a batch boundary), ending
    /// at <paramref name="nextOffset"/>: the index entries and damage already reported before the cut are kept. The
    /// new object is writable (it becomes the active segment); this one is left as it was for the readers that hold it.
    /// </summary>
    public LogSegment TruncatedCopy(string directory, SegmentHandleCache cache, long position, long nextOffset, long maxTimestampNs)
    {
        var copy = new LogSegment(directory, BaseOffset, cache, writable: true);
        ReadOnlySpan<OffsetIndexEntry> offsets = OffsetIndex.Snapshot();
        ReadOnlySpan<TimeIndexEntry> times = TimeIndex.Snapshot();
        int kept = 0;
        while (kept < offsets.Length && kept < times.Length && offsets[kept].Position < position)
        {
            kept++;
        }

        copy.OffsetIndex = AppendOnlyList<OffsetIndexEntry>.From(offsets[..kept]);
        copy.TimeIndex = AppendOnlyList<TimeIndexEntry>.From(times[..kept]);
        copy.LastIndexedPosition = kept > 0 ? offsets[kept - 1].Position : 0;
        copy.Size = position;
        copy.ReadableSize = position;
        copy.NextOffset = nextOffset;
        copy.MaxTimestampNs = maxTimestampNs;
        if (_resyncHints is { } hints)
        {
            foreach ((long at, long resume) in hints)
            {
                if (resume < position)
                {
                    copy.RememberResync(at, resume);
                }
            }
        }

        if (_reported is { } reported)
        {
            foreach ((long at, CorruptionKind kind) in reported.Keys)
            {
                if (at < position)
                {
                    copy.MarkReported(at, kind);
                }
            }
        }

        return copy;
    }

    /// <summary>
    /// Loads <c>.index</c>/<c>.timeindex</c> if both are intact and describe this file as it is now
    /// (<paramref name="fileLength"/>). Sets indexes, next offset, sizes and max timestamp. False = rebuild needed.
    /// </summary>
    public bool TryLoadIndexes(SafeFileHandle handle, long fileLength)
    {
        if (SegmentIndexFile.TryLoad(IndexPath, TimeIndexPath, BaseOffset, handle, fileLength) is not { } loaded)
        {
            return false;
        }

        OffsetIndex = loaded.Offsets;
        TimeIndex = loaded.Times;
        LastIndexedPosition = loaded.LastPosition;
        NextOffset = loaded.NextOffset;
        Size = fileLength;
        ReadableSize = loaded.ValidSize;
        MaxTimestampNs = loaded.MaxTimestampNs;
        return true;
    }

    /// <summary>Persists both indexes atomically (segment closed, or clean shutdown).</summary>
    public void WriteIndexes(long validSize) =>
        SegmentIndexFile.Write(IndexPath, TimeIndexPath, OffsetIndex.Snapshot(), TimeIndex.Snapshot(),
            checked((int)(NextOffset - BaseOffset)), Size, validSize, MaxTimestampNs);

    /// <summary>Drops in-memory indexes (before a full rescan).</summary>
    public void ResetIndexes()
    {
        OffsetIndex = new AppendOnlyList<OffsetIndexEntry>();
        TimeIndex = new AppendOnlyList<TimeIndexEntry>();
        LastIndexedPosition = 0;
        MaxTimestampNs = long.MinValue;
    }

    /// <summary>Removes the persisted indexes (they no longer describe the file).</summary>
    public void DeleteIndexFiles()
    {
        TryDelete(IndexPath);
        TryDelete(TimeIndexPath);
    }

    /// <summary>Removes all files of the segment. Readers holding a lease finish on the unlinked file; the handle
    /// closes when the last lease ends.</summary>
    public void Delete()
    {
        File.Close();
        TryDelete(LogPath);
        TryDelete(IndexPath);
        TryDelete(TimeIndexPath);
    }

    internal static void TryDelete(string path)
    {
        try
        {
            System.IO.File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
