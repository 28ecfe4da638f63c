using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>What an intact pair of <c>.index</c>/<c>.timeindex</c> files says about its segment.</summary>
internal sealed class LoadedSegmentIndex
{
    public required AppendOnlyList<OffsetIndexEntry> Offsets { get; init; }
    public required AppendOnlyList<TimeIndexEntry> Times { get; init; }

    /// <summary>Position of the last entry (0 when there is none).</summary>
    public required int LastPosition { get; init; }

    /// <summary>Offset after the segment's last record.</summary>
    public required long NextOffset { get; init; }

    /// <summary>Bytes of well-formed batches at the file's start (the rest is damage found when it was written).</summary>
    public required long ValidSize { get; init; }

    public required long MaxTimestampNs { get; init; }
}

/// <summary>
/// Reads and writes a segment's persisted sparse indexes (<c>.index</c> and <c>.timeindex</c>; layout in
/// Storage/FORMAT.md). Loading trusts nothing: magic, version, entry size, count, both CRCs, that the header's
/// file size matches the segment as it is now, that entries grow, and that the last entry points at a batch with
/// the expected base offset. Writing is atomic per file (tmp + fsync + rename + directory fsync).
/// </summary>
internal static class SegmentIndexFile
{
    public const int IndexHeaderSize = 44;
    public const int TimeIndexHeaderSize = 16;
    private const uint IndexMagic = 0x5849514E;     // "NQIX"
    private const uint TimeIndexMagic = 0x4954514E; // "NQTI"
    private const ushort Version = 1;

    /// <summary>Loads both files if intact and describing the segment file as it is (<paramref name="fileLength"/>
    /// bytes, read through <paramref name="log"/>); null = rebuild needed.</summary>
    public static LoadedSegmentIndex? TryLoad(string indexPath, string timeIndexPath, long baseOffset, SafeFileHandle log, long fileLength)
    {
        byte[] index;
        byte[] timeIndex;
        try
        {
            if (!File.Exists(indexPath) || !File.Exists(timeIndexPath))
            {
                return null;
            }

            index = File.ReadAllBytes(indexPath);
            timeIndex = File.ReadAllBytes(timeIndexPath);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        if (index.Length < IndexHeaderSize || timeIndex.Length < TimeIndexHeaderSize)
        {
            return null;
        }

        ReadOnlySpan<byte> h = index;
        int count = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != IndexMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(h[4..]) != Version
            || BinaryPrimitives.ReadUInt16LittleEndian(h[6..]) != 8
            || count < 0
            || index.Length != IndexHeaderSize + ((long)count * 8))
        {
            return null;
        }

        uint crc = Crc32C.Append(Crc32C.Compute(h[..40]), h[IndexHeaderSize..]);
        if (crc != BinaryPrimitives.ReadUInt32LittleEndian(h[40..]))
        {
            return null;
        }

        int relEnd = BinaryPrimitives.ReadInt32LittleEndian(h[12..]);
        long dataSize = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
        long validSize = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
        long maxTs = BinaryPrimitives.ReadInt64LittleEndian(h[32..]);
        if (dataSize != fileLength || validSize < 0 || validSize > dataSize || relEnd < 0)
        {
            return null;
        }

        ReadOnlySpan<byte> t = timeIndex;
        int timeCount = BinaryPrimitives.ReadInt32LittleEndian(t[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(t) != TimeIndexMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(t[4..]) != Version
            || BinaryPrimitives.ReadUInt16LittleEndian(t[6..]) != 12
            || timeCount != count
            || timeIndex.Length != TimeIndexHeaderSize + ((long)count * 12))
        {
            return null;
        }

        uint timeCrc = Crc32C.Append(Crc32C.Compute(t[..12]), t[TimeIndexHeaderSize..]);
        if (timeCrc != BinaryPrimitives.ReadUInt32LittleEndian(t[12..]))
        {
            return null;
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
                return null;
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
            if (NativeFile.ReadFully(log, header, lastPos) != LogFormat.BatchHeaderSize)
            {
                return null;
            }

            var bh = new BatchHeader(header);
            if (!bh.IsPlausible(validSize - lastPos) || bh.BaseOffset != baseOffset + lastRel)
            {
                return null;
            }
        }

        return new LoadedSegmentIndex
        {
            Offsets = offsets,
            Times = times,
            LastPosition = lastPos,
            NextOffset = baseOffset + relEnd,
            ValidSize = validSize,
            MaxTimestampNs = maxTs,
        };
    }

    /// <summary>Persists both indexes, each file atomically (the time index first, then the offset index). A pair that
    /// does not match (a crash between the two) fails <see cref="TryLoad"/> and the segment is rescanned.</summary>
    public static void Write(string indexPath, string timeIndexPath, ReadOnlySpan<OffsetIndexEntry> offsets, ReadOnlySpan<TimeIndexEntry> times,
        int relEnd, long fileSize, long validSize, long maxTimestampNs)
    {
        int count = Math.Min(offsets.Length, times.Length);

        byte[] index = new byte[IndexHeaderSize + (count * 8)];
        Span<byte> h = index;
        BinaryPrimitives.WriteUInt32LittleEndian(h, IndexMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 8);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], count);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], relEnd);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], fileSize);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], validSize);
        BinaryPrimitives.WriteInt64LittleEndian(h[32..], maxTimestampNs);
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(h[(IndexHeaderSize + (i * 8))..], offsets[i].RelOffset);
            BinaryPrimitives.WriteInt32LittleEndian(h[(IndexHeaderSize + (i * 8) + 4)..], offsets[i].Position);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(h[40..], Crc32C.Append(Crc32C.Compute(h[..40]), h[IndexHeaderSize..]));

        byte[] timeIndex = new byte[TimeIndexHeaderSize + (count * 12)];
        Span<byte> t = timeIndex;
        BinaryPrimitives.WriteUInt32LittleEndian(t, TimeIndexMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(t[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(t[6..], 12);
        BinaryPrimitives.WriteInt32LittleEndian(t[8..], count);
        for (int i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(t[(TimeIndexHeaderSize + (i * 12))..], times[i].MaxTimestampNs);
            BinaryPrimitives.WriteInt32LittleEndian(t[(TimeIndexHeaderSize + (i * 12) + 8)..], times[i].RelOffset);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(t[12..], Crc32C.Append(Crc32C.Compute(t[..12]), t[TimeIndexHeaderSize..]));

        AtomicFile.WriteAllBytes(timeIndexPath, timeIndex);
        AtomicFile.WriteAllBytes(indexPath, index);
    }
}
