using System.Buffers.Binary;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>A leader epoch and the offset of its first record in this log.</summary>
public readonly record struct EpochEntry(long Epoch, long StartOffset);

/// <summary>
/// Answer to <see cref="PartitionLog.EndOffsetForEpoch"/> (Kafka's OffsetsForLeaderEpoch, KIP-101): the largest epoch
/// this log knows at or below the one asked for, and where that epoch ends here. Both -1 when undefined.
/// </summary>
public readonly record struct EpochEndOffset(long Epoch, long EndOffset)
{
    public static EpochEndOffset Undefined => new(-1, -1);

    public bool IsDefined => EndOffset >= 0;
}

/// <summary>
/// The leader-epoch cache of one partition log (Kafka's leader-epoch-checkpoint): epoch → first offset, one entry per
/// epoch that wrote to this log, epochs and start offsets strictly increasing. Persisted in the partition directory
/// as <c>leader-epoch-checkpoint</c> (layout in Storage/FORMAT.md; CRC-protected, replaced atomically). The log writes
/// it before acknowledging the first append of a new epoch, so the file never misses the epoch of acknowledged data;
/// it may hold entries past the log's end after a crash, which recovery removes (<see cref="Reconcile"/>). Thread-safe.
/// </summary>
internal sealed class LeaderEpochCache
{
    public const string FileName = "leader-epoch-checkpoint";
    private const uint Magic = 0x454C514E; // "NQLE"
    private const ushort Version = 1;
    private const int HeaderSize = 16;
    private const int EntrySize = 16;

    private readonly object _lock = new();
    private readonly object _fileLock = new();
    private readonly List<EpochEntry> _entries;
    private long _changes;
    private long _persisted;

    private LeaderEpochCache(string path, List<EpochEntry> entries, bool dirty)
    {
        Path = path;
        _entries = entries;
        _changes = dirty ? 1 : 0;
    }

    /// <summary>The checkpoint file.</summary>
    public string Path { get; }

    /// <summary>Latest epoch with data in the log; -1 when none is known.</summary>
    public long LatestEpoch
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count == 0 ? -1 : _entries[^1].Epoch;
            }
        }
    }

    /// <summary>A copy of every entry, oldest first.</summary>
    public EpochEntry[] Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Changed since last written.</summary>
    public bool IsDirty
    {
        get
        {
            lock (_lock)
            {
                return _changes != _persisted;
            }
        }
    }

    /// <summary>Loads the checkpoint in <paramref name="directory"/>: missing = empty; damaged = empty, with
    /// <paramref name="problem"/> saying why (the caller logs it; recovery then rebuilds what the log tail shows).</summary>
    public static LeaderEpochCache Load(string directory, out string? problem)
    {
        string path = System.IO.Path.Combine(directory, FileName);
        problem = null;
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                return new LeaderEpochCache(path, [], dirty: false);
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot read {path}: {e.Message}";
            return new LeaderEpochCache(path, [], dirty: true);
        }

        List<EpochEntry>? entries = Parse(bytes, out problem);
        return entries is null ? new LeaderEpochCache(path, [], dirty: true) : new LeaderEpochCache(path, entries, dirty: false);
    }

    private static List<EpochEntry>? Parse(ReadOnlySpan<byte> bytes, out string? problem)
    {
        problem = null;
        if (bytes.Length < HeaderSize)
        {
            problem = $"{bytes.Length} bytes, shorter than the header";
            return null;
        }

        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic
            || BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]) != Version
            || BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]) != EntrySize
            || count < 0
            || bytes.Length != HeaderSize + ((long)count * EntrySize))
        {
            problem = "bad header";
            return null;
        }

        uint crc = Crc32C.Append(Crc32C.Compute(bytes[..12]), bytes[HeaderSize..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]))
        {
            problem = "CRC mismatch";
            return null;
        }

        var entries = new List<EpochEntry>(count);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> e = bytes.Slice(HeaderSize + (i * EntrySize), EntrySize);
            var entry = new EpochEntry(BinaryPrimitives.ReadInt64LittleEndian(e), BinaryPrimitives.ReadInt64LittleEndian(e[8..]));
            if (entry.Epoch < 0 || entry.StartOffset < 0
                || (entries.Count > 0 && (entry.Epoch <= entries[^1].Epoch || entry.StartOffset < entries[^1].StartOffset)))
            {
                problem = $"entry {i} ({entry.Epoch} at {entry.StartOffset}) breaks the order";
                return null;
            }

            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>
    /// Records that <paramref name="epoch"/> starts at <paramref name="startOffset"/> (in memory; <see cref="Persist"/>
    /// writes it). False when it is already the latest epoch. Callers keep epochs from going down
    /// (InvalidOperationException otherwise).
    /// </summary>
    public bool Assign(long epoch, long startOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfNegative(startOffset);
        lock (_lock)
        {
            if (_entries.Count > 0)
            {
                EpochEntry latest = _entries[^1];
                if (epoch == latest.Epoch)
                {
                    return false;
                }

                if (epoch < latest.Epoch || startOffset < latest.StartOffset)
                {
                    throw new InvalidOperationException($"leader epoch {epoch} at offset {startOffset} does not follow the latest epoch {latest.Epoch} at {latest.StartOffset}");
                }

                if (startOffset == latest.StartOffset)
                {
                    // The previous epoch wrote nothing here (its first batch was truncated away): it has no range.
                    _entries.RemoveAt(_entries.Count - 1);
                }
            }

            _entries.Add(new EpochEntry(epoch, startOffset));
            _changes++;
            return true;
        }
    }

    /// <summary>
    /// KIP-101's end offset for <paramref name="epoch"/> in a log ending at <paramref name="logEnd"/>:
    /// <list type="bullet">
    /// <item>the latest epoch: (epoch, logEnd);</item>
    /// <item>a known or in-between epoch: (the largest known epoch &lt;= it, the start offset of the next higher epoch);</item>
    /// <item>an epoch below the earliest known one: (epoch, the earliest entry's start offset): everything this log
    /// holds from there on was written by later epochs, so a follower asking for it truncates to there (Kafka answers
    /// the same; earlier entries were removed with the segments retention deleted);</item>
    /// <item>an epoch above the latest, a negative one, or an empty cache: <see cref="EpochEndOffset.Undefined"/>.</item>
    /// </list>
    /// </summary>
    public EpochEndOffset EndOffsetFor(long epoch, long logEnd)
    {
        if (epoch < 0)
        {
            return EpochEndOffset.Undefined;
        }

        lock (_lock)
        {
            if (_entries.Count == 0)
            {
                return EpochEndOffset.Undefined;
            }

            if (_entries[^1].Epoch == epoch)
            {
                return new EpochEndOffset(epoch, logEnd);
            }

            // First entry with a higher epoch.
            int higher = 0;
            while (higher < _entries.Count && _entries[higher].Epoch <= epoch)
            {
                higher++;
            }

            if (higher == _entries.Count)
            {
                return EpochEndOffset.Undefined;
            }

            return higher == 0
                ? new EpochEndOffset(epoch, _entries[0].StartOffset)
                : new EpochEndOffset(_entries[higher - 1].Epoch, _entries[higher].StartOffset);
        }
    }

    /// <summary>Epoch that wrote <paramref name="offset"/> per the cache; -1 if it lies before the earliest entry.</summary>
    public long EpochAt(long offset)
    {
        lock (_lock)
        {
            for (int i = _entries.Count - 1; i >= 0; i--)
            {
                if (_entries[i].StartOffset <= offset)
                {
                    return _entries[i].Epoch;
                }
            }

            return -1;
        }
    }

    /// <summary>Log truncated to <paramref name="endOffset"/>: removes every epoch starting at or after it. True if changed.</summary>
    public bool TruncateFromEnd(long endOffset)
    {
        lock (_lock)
        {
            int keep = _entries.Count;
            while (keep > 0 && _entries[keep - 1].StartOffset >= endOffset)
            {
                keep--;
            }

            if (keep == _entries.Count)
            {
                return false;
            }

            _entries.RemoveRange(keep, _entries.Count - keep);
            _changes++;
            return true;
        }
    }

    /// <summary>Retention moved the log start to <paramref name="startOffset"/>: epochs that ended before it are removed
    /// and the one holding it now starts there (Kafka's truncateFromStart). True if changed.</summary>
    public bool TruncateFromStart(long startOffset)
    {
        lock (_lock)
        {
            int holding = -1;
            for (int i = 0; i < _entries.Count && _entries[i].StartOffset <= startOffset; i++)
            {
                holding = i;
            }

            if (holding < 0 || (holding == 0 && _entries[0].StartOffset == startOffset))
            {
                return false;
            }

            long epoch = _entries[holding].Epoch;
            _entries.RemoveRange(0, holding);
            _entries[0] = new EpochEntry(epoch, startOffset);
            _changes++;
            return true;
        }
    }

    /// <summary>
    /// Recovery: the log's tail from <paramref name="scanStartOffset"/> on was just scanned and showed the epoch changes
    /// in <paramref name="scanned"/> (strictly increasing, each above the cache's epoch before the scan start). The scan
    /// is the truth for its range: entries starting there or later are replaced by it. With no entry left before the
    /// scan, the first scanned epoch is taken to start at <paramref name="logStart"/> (a log written before the cache
    /// existed, or whose checkpoint was lost). True if the cache changed.
    /// </summary>
    public bool Reconcile(long scanStartOffset, IReadOnlyList<EpochEntry> scanned, long logStart)
    {
        lock (_lock)
        {
            EpochEntry[] before = [.. _entries];
            int keep = _entries.Count;
            while (keep > 0 && _entries[keep - 1].StartOffset >= scanStartOffset)
            {
                keep--;
            }

            _entries.RemoveRange(keep, _entries.Count - keep);
            foreach (EpochEntry entry in scanned)
            {
                if (_entries.Count > 0 && entry.Epoch <= _entries[^1].Epoch)
                {
                    continue;
                }

                _entries.Add(_entries.Count == 0 ? entry with { StartOffset = logStart } : entry);
            }

            bool changed = !before.AsSpan().SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_entries));
            if (changed)
            {
                _changes++;
            }

            return changed;
        }
    }

    /// <summary>Writes the current entries to the checkpoint (tmp + fsync + rename + directory fsync).</summary>
    public void Persist()
    {
        lock (_fileLock)
        {
            byte[] bytes;
            long changes;
            lock (_lock)
            {
                changes = _changes;
                bytes = new byte[HeaderSize + (_entries.Count * EntrySize)];
                Span<byte> s = bytes;
                BinaryPrimitives.WriteUInt32LittleEndian(s, Magic);
                BinaryPrimitives.WriteUInt16LittleEndian(s[4..], Version);
                BinaryPrimitives.WriteUInt16LittleEndian(s[6..], EntrySize);
                BinaryPrimitives.WriteInt32LittleEndian(s[8..], _entries.Count);
                for (int i = 0; i < _entries.Count; i++)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(s[(HeaderSize + (i * EntrySize))..], _entries[i].Epoch);
                    BinaryPrimitives.WriteInt64LittleEndian(s[(HeaderSize + (i * EntrySize) + 8)..], _entries[i].StartOffset);
                }

                BinaryPrimitives.WriteUInt32LittleEndian(s[12..], Crc32C.Append(Crc32C.Compute(s[..12]), s[HeaderSize..]));
            }

            AtomicFile.WriteAllBytes(Path, bytes);
            lock (_lock)
            {
                _persisted = Math.Max(_persisted, changes);
            }
        }
    }

    /// <summary><see cref="Persist"/> if anything changed since the last write.</summary>
    public void PersistIfDirty()
    {
        if (IsDirty)
        {
            Persist();
        }
    }
}
