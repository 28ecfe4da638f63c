using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using NsqSharp.Common;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// The ops file of a channel (<c>channels/&lt;name&gt;.ops</c>): the cursor ops since the snapshot, appended in blocks
/// and fsynced by each checkpoint step. Little-endian:
/// <code>
/// block:  "NSQO" | u32 count | u64 generation | u32 CRC32C (of count, generation and the records) | count × record
/// record: u8 kind | 3 × u8 0 | i32 partition | i64 offset | i64 value          (24 bytes)
/// </code>
/// Replay applies the blocks whose generation is the snapshot's, in order, and stops at the first block that is
/// incomplete or fails its CRC (a torn tail: the write in progress at a crash). What it applies is therefore always a
/// prefix of the op stream, i.e. an earlier true state of the cursor: at worst some FINs are redelivered.
/// </summary>
public static class CursorOpLog
{
    public const int RecordSize = 24;
    public const int HeaderSize = 20;
    public const int MaxOpsPerBlock = 16_384;
    private const uint BlockMagic = 0x4F51534E; // "NSQO"

    /// <summary>Bytes that ops take in the file, block headers included.</summary>
    public static long SizeOf(int ops) => ops == 0 ? 0 : ((long)ops * RecordSize) + (HeaderSize * (((long)ops + MaxOpsPerBlock - 1) / MaxOpsPerBlock));

    /// <summary>Writes ops at <paramref name="position"/> as blocks of <paramref name="generation"/> and fsyncs. Returns the new end.</summary>
    public static long Append(string path, long position, ulong generation, ReadOnlySpan<CursorOp> ops)
    {
        var created = !File.Exists(path);
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderSize + (MaxOpsPerBlock * RecordSize));
        try
        {
            using var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
            while (!ops.IsEmpty)
            {
                var block = ops[..Math.Min(ops.Length, MaxOpsPerBlock)];
                var length = Encode(buffer, generation, block);
                RandomAccess.Write(handle, buffer.AsSpan(0, length), position);
                position += length;
                ops = ops[block.Length..];
            }

            NativeFile.FlushData(handle);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (created)
        {
            NativeFile.FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }

        return position;
    }

    /// <summary>Empties the file (after a snapshot took over its ops). Not fsynced: until the next append makes it
    /// durable, the blocks left behind carry an older generation and replay ignores them.</summary>
    public static void Truncate(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.Read);
        RandomAccess.SetLength(handle, 0);
    }

    /// <summary>What a replay found.</summary>
    public readonly record struct ReplayResult(long FileBytes, long AppliedOps, long OtherGenerationOps, long ValidBytes, ulong MaxGeneration)
    {
        /// <summary>Bytes after the last valid block (a torn or damaged tail).</summary>
        public long TornBytes => FileBytes - ValidBytes;
    }

    /// <summary>Applies the ops of <paramref name="generation"/> to <paramref name="state"/> (null: only scan).</summary>
    public static ReplayResult Replay(string path, ulong generation, CursorState? state)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (FileNotFoundException)
        {
            return default;
        }
        catch (DirectoryNotFoundException)
        {
            return default;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(HeaderSize + (MaxOpsPerBlock * RecordSize));
        try
        {
            using (handle)
            {
                var length = RandomAccess.GetLength(handle);
                long position = 0;
                long applied = 0;
                long other = 0;
                ulong maxGeneration = 0;
                var ops = new CursorOp[MaxOpsPerBlock];
                while (position + HeaderSize <= length)
                {
                    var header = buffer.AsSpan(0, HeaderSize);
                    if (RandomAccess.Read(handle, header, position) != HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(header) != BlockMagic)
                    {
                        break;
                    }

                    var count = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
                    var blockGeneration = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
                    var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
                    if (count <= 0 || count > MaxOpsPerBlock || position + HeaderSize + ((long)count * RecordSize) > length)
                    {
                        break;
                    }

                    var records = buffer.AsSpan(HeaderSize, count * RecordSize);
                    if (RandomAccess.Read(handle, records, position + HeaderSize) != records.Length ||
                        Crc32C.Append(Crc32C.Compute(header[4..16]), records) != crc)
                    {
                        break;
                    }

                    if (!Decode(records, ops.AsSpan(0, count)))
                    {
                        break;
                    }

                    maxGeneration = Math.Max(maxGeneration, blockGeneration);
                    if (blockGeneration == generation)
                    {
                        state?.Apply(ops.AsSpan(0, count));
                        applied += count;
                    }
                    else
                    {
                        other += count;
                    }

                    position += HeaderSize + ((long)count * RecordSize);
                }

                return new ReplayResult(length, applied, other, position, maxGeneration);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Encode(byte[] buffer, ulong generation, ReadOnlySpan<CursorOp> ops)
    {
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, BlockMagic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], ops.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], generation);
        var pos = HeaderSize;
        foreach (ref readonly var op in ops)
        {
            var r = span.Slice(pos, RecordSize);
            r[0] = (byte)op.Kind;
            r[1] = 0;
            r[2] = 0;
            r[3] = 0;
            BinaryPrimitives.WriteInt32LittleEndian(r[4..], op.Partition);
            BinaryPrimitives.WriteInt64LittleEndian(r[8..], op.Offset);
            BinaryPrimitives.WriteInt64LittleEndian(r[16..], op.Value);
            pos += RecordSize;
        }

        var crc = Crc32C.Append(Crc32C.Compute(span[4..16]), span[HeaderSize..pos]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], crc);
        return pos;
    }

    private static bool Decode(ReadOnlySpan<byte> records, Span<CursorOp> into)
    {
        for (var i = 0; i < into.Length; i++)
        {
            var r = records.Slice(i * RecordSize, RecordSize);
            var kind = (CursorOpKind)r[0];
            if (kind is < CursorOpKind.Read or > CursorOpKind.Move)
            {
                return false; // a newer format, or damage the CRC did not catch: stop as at a torn tail
            }

            into[i] = new CursorOp(kind, BinaryPrimitives.ReadInt32LittleEndian(r[4..]),
                BinaryPrimitives.ReadInt64LittleEndian(r[8..]), BinaryPrimitives.ReadInt64LittleEndian(r[16..]));
        }

        return true;
    }
}
