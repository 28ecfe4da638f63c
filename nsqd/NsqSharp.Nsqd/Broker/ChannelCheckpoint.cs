using System.Buffers.Binary;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// The durable form of a channel's cursors, written atomically (tmp + fsync + rename):
/// "NSQC" | u32 version | u32 partitions | per partition: i32 partition, i64 nextRead, i32 count,
/// count × (i64 offset, u16 attempts, i64 dueMs) | u32 CRC32C of everything before it. Little-endian.
/// Acked offsets are implicit: everything below nextRead that is not listed.
/// </summary>
public static class ChannelCheckpoint
{
    private const uint Magic = 0x4353514E; // "NSQC"
    private const uint Version = 1;
    private const int EntrySize = 8 + 2 + 8;

    public sealed record PartitionState(int Partition, long NextRead, List<CheckpointEntry> Entries);

    public static void Write(string path, IReadOnlyList<PartitionState> partitions)
    {
        var size = 12 + 4;
        foreach (var p in partitions)
        {
            size += 4 + 8 + 4 + (p.Entries.Count * EntrySize);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], partitions.Count);
        var pos = 12;
        foreach (var p in partitions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[pos..], p.Partition);
            BinaryPrimitives.WriteInt64LittleEndian(span[(pos + 4)..], p.NextRead);
            BinaryPrimitives.WriteInt32LittleEndian(span[(pos + 12)..], p.Entries.Count);
            pos += 16;
            foreach (var e in p.Entries)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[pos..], e.Offset);
                BinaryPrimitives.WriteUInt16LittleEndian(span[(pos + 8)..], e.Attempts);
                BinaryPrimitives.WriteInt64LittleEndian(span[(pos + 10)..], e.DueMs);
                pos += EntrySize;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], Crc32C.Compute(span[..pos]));
        AtomicFile.WriteAllBytes(path, span);
    }

    /// <summary>Reads a checkpoint; null if missing. Throws InvalidDataException if corrupt.</summary>
    public static List<PartitionState>? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var data = File.ReadAllBytes(path).AsSpan();
        if (data.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic ||
            BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) != Version ||
            Crc32C.Compute(data[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(data[^4..]))
        {
            throw new InvalidDataException($"channel checkpoint {path} is corrupt");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(data[8..]);
        var result = new List<PartitionState>(Math.Max(0, count));
        var pos = 12;
        for (var i = 0; i < count; i++)
        {
            var partition = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
            var nextRead = BinaryPrimitives.ReadInt64LittleEndian(data[(pos + 4)..]);
            var entries = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 12)..]);
            pos += 16;
            if (entries < 0 || pos + ((long)entries * EntrySize) > data.Length - 4)
            {
                throw new InvalidDataException($"channel checkpoint {path} is corrupt");
            }

            var list = new List<CheckpointEntry>(entries);
            for (var j = 0; j < entries; j++)
            {
                list.Add(new CheckpointEntry(
                    BinaryPrimitives.ReadInt64LittleEndian(data[pos..]),
                    BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 8)..]),
                    BinaryPrimitives.ReadInt64LittleEndian(data[(pos + 10)..])));
                pos += EntrySize;
            }

            result.Add(new PartitionState(partition, nextRead, list));
        }

        return result;
    }
}
