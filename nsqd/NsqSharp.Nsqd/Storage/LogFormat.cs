using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Byte layout of record batches (all integers little-endian). See Storage/FORMAT.md.
/// </summary>
internal static class LogFormat
{
    public const int BatchHeaderSize = 48;
    public const int RecordHeaderSize = 24;
    public const ushort Magic = 0x514E; // bytes 'N','Q'
    public const byte Version = 1;

    // Batch header field offsets.
    public const int BaseOffsetPos = 0;
    public const int LeaderEpochPos = 8;
    public const int LengthPos = 16;
    public const int CrcPos = 20;
    public const int CrcStart = 24; // CRC covers [24, length): everything but base offset, epoch, length and the CRC
    public const int MagicPos = 24;
    public const int VersionPos = 26;
    public const int AttributesPos = 27;
    public const int CountPos = 28;
    public const int FirstTimestampPos = 32;
    public const int MaxTimestampPos = 40;

    // Record field offsets (relative to the record start).
    public const int RecLengthPos = 0;
    public const int RecFlagsPos = 4;
    public const int RecHeadersLengthPos = 6;
    public const int RecTimestampPos = 8;
    public const int RecDeliverAtPos = 16;

    private const long UnixEpochTicks = 621355968000000000L;

    public static long NowUnixNs() => (DateTime.UtcNow.Ticks - UnixEpochTicks) * 100;

    /// <summary>Encodes a whole batch (base offset and epoch left 0, CRC filled in). Returns bytes written.</summary>
    public static int EncodeBatch(Span<byte> destination, IReadOnlyList<ReadOnlyMemory<byte>>? bodies, ReadOnlySpan<byte> single, long timestampNs, long deliverAtMs)
    {
        int count = bodies?.Count ?? 1;
        int pos = BatchHeaderSize;
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> body = bodies is null ? single : bodies[i].Span;
            Span<byte> rec = destination.Slice(pos, RecordHeaderSize + body.Length);
            BinaryPrimitives.WriteInt32LittleEndian(rec, rec.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(rec[RecFlagsPos..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(rec[RecHeadersLengthPos..], 0);
            BinaryPrimitives.WriteInt64LittleEndian(rec[RecTimestampPos..], timestampNs);
            BinaryPrimitives.WriteInt64LittleEndian(rec[RecDeliverAtPos..], deliverAtMs);
            body.CopyTo(rec[RecordHeaderSize..]);
            pos += rec.Length;
        }

        Span<byte> header = destination[..BatchHeaderSize];
        BinaryPrimitives.WriteInt64LittleEndian(header, 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[LeaderEpochPos..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(header[LengthPos..], pos);
        BinaryPrimitives.WriteUInt16LittleEndian(header[MagicPos..], Magic);
        header[VersionPos] = Version;
        header[AttributesPos] = 0;
        BinaryPrimitives.WriteInt32LittleEndian(header[CountPos..], count);
        BinaryPrimitives.WriteInt64LittleEndian(header[FirstTimestampPos..], timestampNs);
        BinaryPrimitives.WriteInt64LittleEndian(header[MaxTimestampPos..], timestampNs);
        BinaryPrimitives.WriteUInt32LittleEndian(header[CrcPos..], Crc32C.Compute(destination[CrcStart..pos]));
        return pos;
    }

    /// <summary>Stamps the writer-assigned fields (not covered by the CRC).</summary>
    public static void StampBatch(Span<byte> batch, long baseOffset, long leaderEpoch)
    {
        BinaryPrimitives.WriteInt64LittleEndian(batch, baseOffset);
        BinaryPrimitives.WriteInt64LittleEndian(batch[LeaderEpochPos..], leaderEpoch);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReadLength(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt32LittleEndian(header[LengthPos..]);

    /// <summary>True when the CRC in the batch header matches its content.</summary>
    public static bool CrcMatches(ReadOnlySpan<byte> batch)
    {
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(batch[CrcPos..]);
        return Crc32C.Compute(batch[CrcStart..]) == stored;
    }

    /// <summary>Overwrites the length field (not covered by the CRC).</summary>
    public static void StampLength(Span<byte> batch, int length) => BinaryPrimitives.WriteInt32LittleEndian(batch[LengthPos..], length);

    /// <summary>True when the batch holds exactly <paramref name="count"/> well-formed records filling it.</summary>
    public static bool RecordsWellFormed(ReadOnlySpan<byte> batch, int count)
    {
        var reader = new RecordReader(batch, count);
        int end = BatchHeaderSize;
        while (reader.MoveNext(out int bodyStart, out int bodyLength, out _, out _, out _, out _, out _))
        {
            end = bodyStart + bodyLength;
        }

        return reader.Index == count && end == batch.Length;
    }

    /// <summary>
    /// Checks batches received for a verbatim append (a follower's copy of its leader's log): every batch whole, with
    /// magic, version, a plausible header, a matching CRC and well-formed records; base offsets continuous from batch to
    /// batch; leader epochs not negative and never decreasing. Throws <see cref="InvalidDataException"/> naming the
    /// first problem and its byte position.
    /// </summary>
    public static RawBatchSummary ValidateRawBatches(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            throw new InvalidDataException("no batches to append");
        }

        int position = 0;
        int batches = 0;
        long records = 0;
        long firstOffset = 0;
        long next = 0;
        long firstEpoch = 0;
        long epoch = 0;
        while (position < bytes.Length)
        {
            int remaining = bytes.Length - position;
            if (remaining < BatchHeaderSize)
            {
                throw Invalid(position, $"{remaining} trailing bytes, too short for a batch header");
            }

            var header = new BatchHeader(bytes.Slice(position, BatchHeaderSize));
            if (header.MagicValue != Magic)
            {
                throw Invalid(position, $"bad magic 0x{header.MagicValue:X4}");
            }

            if (header.VersionValue != Version)
            {
                throw Invalid(position, $"unsupported batch version {header.VersionValue}");
            }

            if (!header.IsPlausible(remaining))
            {
                throw Invalid(position, $"implausible header (length {header.Length}, {header.Count} records, base offset {header.BaseOffset}, {remaining} bytes left)");
            }

            ReadOnlySpan<byte> batch = bytes.Slice(position, header.Length);
            if (!CrcMatches(batch))
            {
                throw Invalid(position, "CRC mismatch");
            }

            if (!RecordsWellFormed(batch, header.Count))
            {
                throw Invalid(position, "malformed records");
            }

            if (header.LeaderEpoch < 0)
            {
                throw Invalid(position, $"negative leader epoch {header.LeaderEpoch}");
            }

            if (batches == 0)
            {
                firstOffset = header.BaseOffset;
                firstEpoch = header.LeaderEpoch;
            }
            else if (header.BaseOffset != next)
            {
                throw Invalid(position, $"base offset {header.BaseOffset} does not continue the previous batch (expected {next})");
            }
            else if (header.LeaderEpoch < epoch)
            {
                throw Invalid(position, $"leader epoch {header.LeaderEpoch} is below the previous batch's {epoch}");
            }

            epoch = header.LeaderEpoch;
            next = header.BaseOffset + header.Count;
            records += header.Count;
            batches++;
            position += header.Length;
        }

        return new RawBatchSummary(firstOffset, next, checked((int)records), batches, firstEpoch, epoch);
    }

    private static InvalidDataException Invalid(int position, string problem) =>
        new($"raw batches: {problem} at byte {position}");
}

/// <summary>What <see cref="LogFormat.ValidateRawBatches"/> found: offsets [FirstOffset, NextOffset) in Batches batches.</summary>
internal readonly record struct RawBatchSummary(long FirstOffset, long NextOffset, int Records, int Batches, long FirstEpoch, long LastEpoch);

/// <summary>Parsed fixed part of a batch header.</summary>
internal readonly struct BatchHeader
{
    public BatchHeader(ReadOnlySpan<byte> header)
    {
        BaseOffset = BinaryPrimitives.ReadInt64LittleEndian(header);
        LeaderEpoch = BinaryPrimitives.ReadInt64LittleEndian(header[LogFormat.LeaderEpochPos..]);
        Length = BinaryPrimitives.ReadInt32LittleEndian(header[LogFormat.LengthPos..]);
        MagicValue = BinaryPrimitives.ReadUInt16LittleEndian(header[LogFormat.MagicPos..]);
        VersionValue = header[LogFormat.VersionPos];
        Count = BinaryPrimitives.ReadInt32LittleEndian(header[LogFormat.CountPos..]);
        FirstTimestampNs = BinaryPrimitives.ReadInt64LittleEndian(header[LogFormat.FirstTimestampPos..]);
        MaxTimestampNs = BinaryPrimitives.ReadInt64LittleEndian(header[LogFormat.MaxTimestampPos..]);
    }

    public long BaseOffset { get; }
    public long LeaderEpoch { get; }
    public int Length { get; }
    public ushort MagicValue { get; }
    public byte VersionValue { get; }
    public int Count { get; }
    public long FirstTimestampNs { get; }
    public long MaxTimestampNs { get; }
    public long NextOffset => BaseOffset + Count;

    /// <summary>Structural sanity (no CRC): magic, version, a length that can hold its records and fits in <paramref name="available"/>.</summary>
    public bool IsPlausible(long available) => HasPlausibleShape(available) && BaseOffset >= 0;

    /// <summary><see cref="IsPlausible"/> without the base offset, which readers derive from continuity anyway.</summary>
    public bool HasPlausibleShape(long available) =>
        MagicValue == LogFormat.Magic
        && VersionValue == LogFormat.Version
        && Count >= 1
        && Length >= LogFormat.BatchHeaderSize + ((long)Count * LogFormat.RecordHeaderSize)
        && Length <= PartitionLogOptions.MaxBatchBytes
        && Length <= available;
}

/// <summary>Walks the records of one CRC-checked batch, bounds-checking every length.</summary>
internal ref struct RecordReader
{
    private readonly ReadOnlySpan<byte> _batch;
    private int _pos;
    private int _index;
    private readonly int _count;

    public RecordReader(ReadOnlySpan<byte> batch, int count)
    {
        _batch = batch;
        _pos = LogFormat.BatchHeaderSize;
        _count = count;
        _index = 0;
    }

    public int Index => _index;

    /// <summary>Next record: position of its body within the batch, lengths and fields. False at the end or on a malformed record.</summary>
    public bool MoveNext(out int bodyStart, out int bodyLength, out int headersStart, out int headersLength, out long timestampNs, out long deliverAtMs, out ushort flags)
    {
        bodyStart = bodyLength = headersStart = headersLength = 0;
        timestampNs = deliverAtMs = 0;
        flags = 0;
        if (_index >= _count || _batch.Length - _pos < LogFormat.RecordHeaderSize)
        {
            return false;
        }

        ReadOnlySpan<byte> rec = _batch[_pos..];
        int length = BinaryPrimitives.ReadInt32LittleEndian(rec);
        headersLength = BinaryPrimitives.ReadUInt16LittleEndian(rec[LogFormat.RecHeadersLengthPos..]);
        if (length < LogFormat.RecordHeaderSize + headersLength || length > rec.Length)
        {
            return false;
        }

        flags = BinaryPrimitives.ReadUInt16LittleEndian(rec[LogFormat.RecFlagsPos..]);
        timestampNs = BinaryPrimitives.ReadInt64LittleEndian(rec[LogFormat.RecTimestampPos..]);
        deliverAtMs = BinaryPrimitives.ReadInt64LittleEndian(rec[LogFormat.RecDeliverAtPos..]);
        headersStart = _pos + LogFormat.RecordHeaderSize;
        bodyStart = headersStart + headersLength;
        bodyLength = length - LogFormat.RecordHeaderSize - headersLength;
        _pos += length;
        _index++;
        return true;
    }
}
