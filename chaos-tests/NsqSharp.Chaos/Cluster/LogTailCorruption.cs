using System.Buffers.Binary;
using System.Globalization;

namespace NsqSharp.Chaos.Cluster;

/// <summary>One batch header of a segment file, as the walk met it.</summary>
public sealed record SegmentBatch(long Position, long BaseOffset, long LeaderEpoch, int Length, int RecordCount);

/// <summary>What a corruption did: the file, its length before and after, and where bytes changed.</summary>
public sealed record CorruptionResult(string Segment, long LengthBefore, long LengthAfter, string What)
{
    public override string ToString() => $"{What} in {Segment} ({LengthBefore} -> {LengthAfter} bytes)";
}

/// <summary>
/// Damages the tail of a partition log on a stopped node, for a scenario that restarts it and checks it truncates or
/// refuses the damaged data. The layout (nsqd/NsqSharp.Nsqd/Storage/FORMAT.md): DATA/topics/&lt;topic&gt;/&lt;partition&gt;/
/// holds segments named by a 20-digit base offset, `.log` files of record batches back to back, each batch with a
/// 48-byte header (baseOffset int64, leaderEpoch int64, batchLength int32 including the header, crc32c, magic "NQ"
/// 0x514E, version, attributes, recordCount int32, timestamps), all little-endian. The newest segment is the one with
/// the highest base offset; its tail is where a torn write would be.
/// </summary>
public static class LogTailCorruption
{
    private const int HeaderSize = 48;
    private const ushort Magic = 0x514E;

    /// <summary>DATA/topics/&lt;topic&gt;/&lt;partition&gt; (a topic made only of dots is escaped as nsqd does).</summary>
    public static string PartitionDirectory(string dataPath, string topic, int partition) =>
        Path.Combine(dataPath, "topics", EscapeFileName(topic), partition.ToString(CultureInfo.InvariantCulture));

    /// <summary>The newest segment's .log file.</summary>
    /// <exception cref="FileNotFoundException">The partition has no segment there.</exception>
    public static string NewestSegment(string dataPath, string topic, int partition)
    {
        var dir = PartitionDirectory(dataPath, topic, partition);
        var segments = Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.log").Where(f => Path.GetFileNameWithoutExtension(f) is { Length: 20 } n && n.All(char.IsAsciiDigit)).Order(StringComparer.Ordinal).ToList()
            : [];
        return segments.Count > 0 ? segments[^1] : throw new FileNotFoundException($"no segment of {topic}/{partition} under {dataPath}", dir);
    }

    /// <summary>
    /// The batches of a segment from its start, as far as the headers chain (magic right, length within the file);
    /// no CRC check. For a scenario to aim at a batch boundary, and to see what a restart kept.
    /// </summary>
    public static IReadOnlyList<SegmentBatch> ReadBatches(string segment)
    {
        var bytes = File.ReadAllBytes(segment);
        var batches = new List<SegmentBatch>();
        long position = 0;
        while (position + HeaderSize <= bytes.Length)
        {
            var header = bytes.AsSpan((int)position, HeaderSize);
            var length = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
            if (BinaryPrimitives.ReadUInt16LittleEndian(header[24..]) != Magic || length < HeaderSize || position + length > bytes.Length)
            {
                break;
            }

            batches.Add(new SegmentBatch(position, BinaryPrimitives.ReadInt64LittleEndian(header), BinaryPrimitives.ReadInt64LittleEndian(header[8..]),
                length, BinaryPrimitives.ReadInt32LittleEndian(header[28..])));
            position += length;
        }

        return batches;
    }

    /// <summary>A torn write: cuts the last <paramref name="bytes"/> bytes off the newest segment.</summary>
    public static CorruptionResult Tear(string dataPath, string topic, int partition, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        var segment = NewestSegment(dataPath, topic, partition);
        using var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var before = file.Length;
        if (bytes > before)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"{segment} has only {before} bytes");
        }

        file.SetLength(before - bytes);
        file.Flush(flushToDisk: true);
        return new CorruptionResult(segment, before, before - bytes, $"tore {bytes} bytes off the end");
    }

    /// <summary>
    /// Flips one bit of the newest segment, <paramref name="fromEnd"/> bytes before its end (1: the last byte, inside
    /// the last record's body, so the last batch's CRC no longer matches).
    /// </summary>
    public static CorruptionResult FlipBit(string dataPath, string topic, int partition, long fromEnd = 1, int bit = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fromEnd);
        ArgumentOutOfRangeException.ThrowIfNegative(bit);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bit, 7);
        var segment = NewestSegment(dataPath, topic, partition);
        using var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        var length = file.Length;
        if (fromEnd > length)
        {
            throw new ArgumentOutOfRangeException(nameof(fromEnd), fromEnd, $"{segment} has only {length} bytes");
        }

        var position = length - fromEnd;
        file.Position = position;
        var value = file.ReadByte();
        file.Position = position;
        file.WriteByte((byte)(value ^ (1 << bit)));
        file.Flush(flushToDisk: true);
        return new CorruptionResult(segment, length, length, $"flipped bit {bit} of byte {position}");
    }

    /// <summary>As nsqd names a topic's directory: a name of dots only is escaped ('.' as %2E).</summary>
    private static string EscapeFileName(string name) =>
        name.All(c => c == '.') ? name.Replace(".", "%2E", StringComparison.Ordinal) : name;
}
