using System.IO.Compression;
using NsqSharp.Common.Net;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Raw deflate (RFC 1951, no zlib/gzip header) as Go's compress/flate, which nsqd and go-nsq use
/// after IDENTIFY negotiates "deflate". In .NET the compressing DeflateStream's Flush() performs a
/// zlib Z_SYNC_FLUSH (it ends the current block with an empty stored block, like Go's
/// flate.Writer.Flush), so everything written so far becomes decodable by the peer.
/// </summary>
public static class DeflateStreams
{
    public const int MinLevel = 1;
    public const int MaxLevel = 9;

    /// <summary>nsqd's default deflate_level.</summary>
    public const int DefaultLevel = 6;

    /// <summary>Inflating stream over <paramref name="inner"/>; a read returns as soon as any data decodes.</summary>
    public static Stream CreateReader(Stream inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return new DeflateStream(inner, CompressionMode.Decompress, leaveOpen);
    }

    /// <summary>
    /// Deflating stream over <paramref name="inner"/> at NSQ deflate_level
    /// <paramref name="level"/> (1 fastest .. 9 smallest, the same scale as zlib and Go).
    /// </summary>
    public static Stream CreateWriter(Stream inner, int level, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(level, MinLevel);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(level, MaxLevel);
        var options = new ZLibCompressionOptions
        {
            CompressionLevel = level,
            CompressionStrategy = ZLibCompressionStrategy.Default,
        };
        return new DeflateStream(inner, options, leaveOpen);
    }

    /// <summary>
    /// One duplex stream for a connection: reads inflate, writes deflate, Flush() sync-flushes.
    /// Disposing it finishes the deflate stream and then (unless <paramref name="leaveOpen"/>)
    /// disposes <paramref name="inner"/>.
    /// </summary>
    public static Stream CreateDuplex(Stream inner, int level, bool leaveOpen = false)
    {
        Stream writer = CreateWriter(inner, level, leaveOpen: true);
        Stream reader = CreateReader(inner, leaveOpen: true);
        return new ReadWriteStream(reader, writer, inner, leaveOpen);
    }
}
