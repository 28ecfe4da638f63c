using System.Buffers;
using System.Buffers.Binary;
using NsqSharp.Common;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// The snapshot of a channel's cursors (<c>channels/&lt;name&gt;.cursor</c>), written atomically (tmp + fsync +
/// rename + directory fsync). Little-endian, CRC32C over everything before the CRC:
/// <code>
/// v2: "NSQC" | u32 2 | u64 opsGeneration | u32 partitions | per partition: i32 partition, i64 nextRead, i32 count,
///     count × (i64 offset, u16 attempts, i64 dueMs, u8 flags: 1 = in flight) | u32 CRC32C
/// v1: "NSQC" | u32 1 | u32 partitions | per partition: i32 partition, i64 nextRead, i32 count,
///     count × (i64 offset, u16 attempts, i64 dueMs) | u32 CRC32C
/// </code>
/// Acked offsets are implicit: everything below nextRead that is not listed. A v2 snapshot is followed by the ops of
/// <c>opsGeneration</c> in the ops file (<see cref="CursorOpLog"/>); v1 (written before cursor ops existed) has none
/// and is still read, so existing data directories keep their positions.
/// </summary>
public static class ChannelCheckpoint
{
    private const uint Magic = 0x4353514E; // "NSQC"
    private const int EntrySizeV1 = 8 + 2 + 8;
    private const int EntrySizeV2 = 8 + 2 + 8 + 1;
    private const byte FlagInFlight = 1;
    private static long s_tmpSequence;

    /// <summary>A snapshot as read: its format version, the ops generation that follows it (0 for v1), and the state.</summary>
    public sealed record Snapshot(int Version, ulong OpsGeneration, CursorState State);

    /// <summary>Bytes a v2 snapshot of this state takes (decides when the ops file is worth compacting).</summary>
    public static long SizeV2(int partitions, long pending) => 4 + 4 + 8 + 4 + (16L * partitions) + (EntrySizeV2 * pending) + 4;

    /// <summary>Writes a v2 snapshot atomically. Streams through a 64 KiB buffer: the pending set is never copied whole.</summary>
    public static void Write(string path, CursorState state, ulong opsGeneration)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? throw new ArgumentException("path has no directory", nameof(path));
        var temp = $"{full}.{Environment.ProcessId}-{Interlocked.Increment(ref s_tmpSequence)}.tmp";
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var writer = new ChunkWriter(handle, buffer);
                Span<byte> header = stackalloc byte[20];
                BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], 2);
                BinaryPrimitives.WriteUInt64LittleEndian(header[8..], opsGeneration);
                BinaryPrimitives.WriteInt32LittleEndian(header[16..], state.Partitions.Count);
                writer.Write(header);
                Span<byte> item = stackalloc byte[16];
                foreach (var p in state.Partitions)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(item, p.Partition);
                    BinaryPrimitives.WriteInt64LittleEndian(item[4..], p.NextRead);
                    BinaryPrimitives.WriteInt32LittleEndian(item[12..], p.Pending.Count);
                    writer.Write(item);
                    foreach (var (offset, entry) in p.Pending)
                    {
                        var e = writer.Reserve(EntrySizeV2);
                        BinaryPrimitives.WriteInt64LittleEndian(e, offset);
                        BinaryPrimitives.WriteUInt16LittleEndian(e[8..], entry.Attempts);
                        BinaryPrimitives.WriteInt64LittleEndian(e[10..], entry.DueMs);
                        e[18] = entry.InFlight ? FlagInFlight : (byte)0;
                    }
                }

                writer.FinishWithCrc();
                NativeFile.FlushData(handle);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        NativeFile.FlushDirectory(directory);
    }

    /// <summary>Writes the v1 format (before cursor ops): only for tests of the upgrade path. In-flight flags are lost, as in v1.</summary>
    internal static void WriteV1(string path, CursorState state)
    {
        var size = 12 + 4;
        foreach (var p in state.Partitions)
        {
            size += 4 + 8 + 4 + (p.Pending.Count * EntrySizeV1);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], state.Partitions.Count);
        var pos = 12;
        foreach (var p in state.Partitions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[pos..], p.Partition);
            BinaryPrimitives.WriteInt64LittleEndian(span[(pos + 4)..], p.NextRead);
            BinaryPrimitives.WriteInt32LittleEndian(span[(pos + 12)..], p.Pending.Count);
            pos += 16;
            foreach (var (offset, e) in p.Pending)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[pos..], offset);
                BinaryPrimitives.WriteUInt16LittleEndian(span[(pos + 8)..], e.Attempts);
                BinaryPrimitives.WriteInt64LittleEndian(span[(pos + 10)..], e.DueMs);
                pos += EntrySizeV1;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], Crc32C.Compute(span[..pos]));
        AtomicFile.WriteAllBytes(path, span);
    }

    /// <summary>Reads a v1 or v2 snapshot; null if missing. Throws InvalidDataException if corrupt.</summary>
    public static Snapshot? Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        var data = bytes.AsSpan();
        if (data.Length < 16 || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic ||
            Crc32C.Compute(data[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(data[^4..]))
        {
            throw new InvalidDataException($"channel checkpoint {path} is corrupt");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        ulong generation;
        int pos;
        int entrySize;
        switch (version)
        {
            case 1:
                generation = 0;
                pos = 8;
                entrySize = EntrySizeV1;
                break;
            case 2 when data.Length >= 24:
                generation = BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);
                pos = 16;
                entrySize = EntrySizeV2;
                break;
            default:
                throw new InvalidDataException($"channel checkpoint {path} has unknown version {version}");
        }

        var body = data[..^4];
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[pos..]);
        pos += 4;
        var state = new CursorState();
        for (var i = 0; i < count; i++)
        {
            if (pos + 16 > body.Length)
            {
                throw new InvalidDataException($"channel checkpoint {path} is corrupt");
            }

            var p = state.Partition(BinaryPrimitives.ReadInt32LittleEndian(body[pos..]));
            p.NextRead = BinaryPrimitives.ReadInt64LittleEndian(body[(pos + 4)..]);
            var entries = BinaryPrimitives.ReadInt32LittleEndian(body[(pos + 12)..]);
            pos += 16;
            if (entries < 0 || pos + ((long)entries * entrySize) > body.Length)
            {
                throw new InvalidDataException($"channel checkpoint {path} is corrupt");
            }

            p.Pending.EnsureCapacity(entries);
            for (var j = 0; j < entries; j++)
            {
                var e = body.Slice(pos, entrySize);
                p.Pending[BinaryPrimitives.ReadInt64LittleEndian(e)] = new CursorEntryState
                {
                    Attempts = BinaryPrimitives.ReadUInt16LittleEndian(e[8..]),
                    DueMs = BinaryPrimitives.ReadInt64LittleEndian(e[10..]),
                    InFlight = version >= 2 && (e[18] & FlagInFlight) != 0,
                };
                pos += entrySize;
            }
        }

        return new Snapshot((int)version, generation, state);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Positional writes through one buffer, with a running CRC32C of everything written.</summary>
    private sealed class ChunkWriter(Microsoft.Win32.SafeHandles.SafeFileHandle handle, byte[] buffer)
    {
        private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle = handle;
        private readonly byte[] _buffer = buffer;
        private int _used;
        private long _position;
        private uint _crc;

        public void Write(ReadOnlySpan<byte> data) => data.CopyTo(Reserve(data.Length));

        public Span<byte> Reserve(int length)
        {
            if (_used + length > _buffer.Length)
            {
                Flush();
            }

            var span = _buffer.AsSpan(_used, length);
            _used += length;
            return span;
        }

        public void FinishWithCrc()
        {
            Flush();
            Span<byte> crc = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(crc, _crc);
            RandomAccess.Write(_handle, crc, _position);
        }

        private void Flush()
        {
            var data = _buffer.AsSpan(0, _used);
            _crc = _position == 0 ? Crc32C.Compute(data) : Crc32C.Append(_crc, data);
            RandomAccess.Write(_handle, data, _position);
            _position += _used;
            _used = 0;
        }
    }
}
