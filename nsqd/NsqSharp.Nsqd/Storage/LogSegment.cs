using System.Collections.Concurrent;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>Sparse offset index entry: the batch starting at <see cref="Position"/> has base offset segmentBase + <see cref="RelOffset"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct OffsetIndexEntry
{
    public int RelOffset;
    public int Position;
}

/// <summary>Sparse time index entry: every record with offset &lt; segmentBase + <see cref="RelOffset"/> has timestamp &lt;= <see cref="MaxTimestampNs"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeIndexEntry
{
    public long MaxTimestampNs;
    public int RelOffset;
}

/// <summary>
/// Append-only array with one writer and lock-free readers: the writer stores an item, then publishes the count;
/// readers read the count, then the array (a grown array always contains every published item).
/// </summary>
internal sealed class AppendOnlyList<T>
    where T : struct
{
    private T[] _items;
    private int _count;

    public AppendOnlyList(int capacity = 16) => _items = new T[Math.Max(4, capacity)];

    public int Count => Volatile.Read(ref _count);

    public void Add(in T item)
    {
        int count = _count;
        T[] items = _items;
        if (count == items.Length)
        {
            var grown = new T[items.Length * 2];
            Array.Copy(items, grown, count);
            Volatile.Write(ref _items, grown);
            items = grown;
        }

        items[count] = item;
        Volatile.Write(ref _count, count + 1);
    }

    public ReadOnlySpan<T> Snapshot()
    {
        (T[] items, int count) = SnapshotArray();
        return new ReadOnlySpan<T>(items, 0, count);
    }

    /// <summary>The published items as (array, count), for holders that cannot keep a span.</summary>
    public (T[] Items, int Count) SnapshotArray()
    {
        int count = Volatile.Read(ref _count);
        T[] items = Volatile.Read(ref _items);
        return (items, Math.Min(count, items.Length));
    }
}

/// <summary>
/// One segment: <c>&lt;base&gt;.log</c> plus its sparse indexes (in memory; persisted as <c>.index</c>/<c>.timeindex</c>
/// when the segment is closed or the log shuts down cleanly). The active segment is written only by the
/// partition's writer loop; everything readers use is published with volatile writes. The file's handle is not
/// held: <see cref="File"/> leases it from the log's <see cref="SegmentHandleCache"/>.
/// </summary>
internal sealed class LogSegment
{
    public const int IndexHeaderSize = 44;
    public const int TimeIndexHeaderSize = 16;
    private const uint IndexMagic = 0x5849514E;     // "NQIX"
    private const uint TimeIndexMagic = 0x4954514E; // "NQTI"
    private const ushort IndexVersion = 1;
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

    /// <summary>Bytes readers may read: the durable part of the active segment, the well-formed part of a closed one.</summary>
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
    public void OnBatch(long position, long baseOffset, int length, long batchMaxTimestampNs, int indexInterval)
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

        _ = length;
    }

    /// <summary>Largest index entry at or below <paramref name="offset"/>: (its offset, its file position).</summary>
    public (long Offset, long Position) FloorEntry(long offset)
    {
        ReadOnlySpan<OffsetIndexEntry> entries = OffsetIndex.Snapshot();
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

        return found < 0 ? (BaseOffset, 0) : (BaseOffset + entries[found].RelOffset, entries[found].Position);
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

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file; returns bytes read.</summary>
    public static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[total..], position + total);
            if (n <= 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>True when the batch holds exactly <paramref name="count"/> well-formed records filling it.</summary>
    public static bool RecordsWellFormed(ReadOnlySpan<byte> batch, int count)
    {
        var reader = new RecordReader(batch, count);
        int end = LogFormat.BatchHeaderSize;
        while (reader.MoveNext(out int bodyStart, out int bodyLength, out _, out _, out _, out _, out _))
        {
            end = bodyStart + bodyLength;
        }

        return reader.Index == count && end == batch.Length;
    }

    /// <summary>
    /// Loads <c>.index</c>/<c>.timeindex</c> if both are intact and describe this file as it is now
    /// (<paramref name="fileLength"/>). Sets indexes, next offset, sizes and max timestamp. False = rebuild needed.
    /// </summary>
    public bool TryLoadIndexes(SafeFileHandle handle, long fileLength)
    {
        byte[] index;
        byte[] timeIndex;
        try
        {
            if (!System.IO.File.Exists(IndexPath) || !System.IO.File.Exists(TimeIndexPath))
            {
                return false;
            }

            index = System.IO.File.ReadAllBytes(IndexPath);
            timeIndex = System.IO.File.ReadAllBytes(TimeIndexPath);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        if (index.Length < IndexHeaderSize || timeIndex.Length < TimeIndexHeaderSize)
        {
            return false;
        }

        ReadOnlySpan<byte> h = index;
        int count = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != IndexMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(h[4..]) != IndexVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(h[6..]) != 8
            || count < 0
            || index.Length != IndexHeaderSize + ((long)count * 8))
        {
            return false;
        }

        uint crc = Crc32C.Append(Crc32C.Compute(h[..40]), h[IndexHeaderSize..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(h[40..]))
        {
            return false;
        }

        int relEnd = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        long dataSize = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        long validSize = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        long maxTs = BinaryPrimitives.ReadInt64LittleEndian(h[32..]);
        if (dataSize != fileLength || validSize < 0 || validSize > dataSize || relEnd < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> t = timeIndex;
        int timeCount = BinaryPrimitives.ReadInt32LittleEndian(t[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(t) != TimeIndexMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(t[4..]) != IndexVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(t[6..]) != 12
            || timeCount != count
            || timeIndex.Length != TimeIndexHeaderSize + ((long)count * 12))
        {
            return false;
        }

        uint timeCrc = Crc32C.Append(Crc32C.Compute(t[..12]), t[TimeIndexHeaderSize..]);
        if (timeCrc != BinaryPrimitives.ReadUInt32LittleEndian(t[12..]))
        {
            return false;
        }

        var offsets = new AppendOnlyList<OffsetIndexEntry>(count + 16);
        var times = new AppendOnlyList<TimeIndexEntry>(count + 16);
        int lastRel = 0;
        int lastPos = 0;
        for (int i = 0; i < count; i++)
        {
            int rel = BinaryPrimitives.ReadInt32LittleEndian(h[(IndexHeaderSize + (i * 8))..]);
            int pos = BinaryPrimitives.ReadInt32LittleEndian(h[(IndexHeaderSize + (i * 8) + 4)..]);
            long ts = BinaryPrimitives.ReadInt64LittleEndian(t[(TimeIndexHeaderSize + (i * 12))..]);
            int timeRel = BinaryPrimitives.ReadInt32LittleEndian(t[(TimeIndexHeaderSize + (i * 12) + 8)..]);
            if (rel <= lastRel || pos <= lastPos || pos >= validSize || rel >= relEnd || timeRel != rel)
            {
                return false;
            }

            offsets.Add(new OffsetIndexEntry { RelOffset = rel, Position = pos });
            times.Add(new TimeIndexEntry { MaxTimestampNs = ts, RelOffset = rel });
            lastRel = rel;
            lastPos = pos;
        }

        // Cheap cross-check against the data: the last entry must point at a batch with the expected base offset.
        if (count > 0)
        {
            Span<byte> header = stackalloc byte[LogFormat.BatchHeaderSize];
            if (ReadFully(handle, header, lastPos) != LogFormat.BatchHeaderSize)
            {
                return false;
            }

            var bh = new BatchHeader(header);
            if (!bh.IsPlausible(validSize - lastPos) || bh.BaseOffset != BaseOffset + lastRel)
            {
                return false;
            }
        }

        OffsetIndex = offsets;
        TimeIndex = times;
        LastIndexedPosition = lastPos;
        NextOffset = BaseOffset + relEnd;
        Size = fileLength;
        ReadableSize = validSize;
        MaxTimestampNs = maxTs;
        return true;
    }

    /// <summary>Persists both indexes atomically (segment closed, or clean shutdown).</summary>
    public void WriteIndexes(long validSize)
    {
        ReadOnlySpan<OffsetIndexEntry> offsets = OffsetIndex.Snapshot();
        ReadOnlySpan<TimeIndexEntry> times = TimeIndex.Snapshot();
        int count = Math.Min(offsets.Length, times.Length);

        byte[] index = new byte[IndexHeaderSize + (count * 8)];
        Span<byte> h = index;
        BinaryPrimitives.WriteUInt32LittleEndian(h, IndexMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], IndexVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 8);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], count);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], checked((int)(NextOffset - BaseOffset)));
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], Size);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], validSize);
        BinaryPrimitives.WriteInt64LittleEndian(h[32..], MaxTimestampNs);
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(h[(IndexHeaderSize + (i * 8))..], offsets[i].RelOffset);
            BinaryPrimitives.WriteInt32LittleEndian(h[(IndexHeaderSize + (i * 8) + 4)..], offsets[i].Position);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], Crc32C.Append(Crc32C.Compute(h[..40]), h[IndexHeaderSize..]));

        byte[] timeIndex = new byte[TimeIndexHeaderSize + (count * 12)];
        Span<byte> t = timeIndex;
        BinaryPrimitives.WriteUInt32LittleEndian(t, TimeIndexMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(t[4..], IndexVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(t[6..], 12);
        BinaryPrimitives.WriteInt32LittleEndian(t[8..], count);
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(t[(TimeIndexHeaderSize + (i * 12))..], times[i].MaxTimestampNs);
            BinaryPrimitives.WriteInt32LittleEndian(t[(TimeIndexHeaderSize + (i * 12) + 8)..], times[i].RelOffset);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(t[12..], Crc32C.Append(Crc32C.Compute(t[..12]), t[TimeIndexHeaderSize..]));

        AtomicFile.WriteAllBytes(TimeIndexPath, timeIndex);
        AtomicFile.WriteAllBytes(IndexPath, index);
    }

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
