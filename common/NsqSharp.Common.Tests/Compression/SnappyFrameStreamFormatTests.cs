using System.Buffers.Binary;
using NsqSharp.Common.Compression;
using Xunit;

namespace NsqSharp.Common.Tests.Compression;

/// <summary>Byte-level checks of what the writer emits and what the reader accepts.</summary>
public class SnappyFrameStreamFormatTests
{
    private static readonly byte[] StreamIdentifier = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

    [Fact]
    public void WritesGoldenBytesForHello()
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe, leaveOpen: true);
        snappy.Write("hello"u8);
        Assert.Equal(0, pipe.Available); // buffered until flush
        snappy.Flush();

        // Identifier, then an uncompressed chunk (Snappy can't shrink 5 bytes): type 0x01,
        // length 9 (4 checksum + 5 data), masked CRC-32C of "hello" (crc 0x9a71bb4c -> 0x191c1fbb).
        byte[] expected = [.. StreamIdentifier, 0x01, 0x09, 0x00, 0x00, 0xbb, 0x1f, 0x1c, 0x19, .. "hello"u8];
        Assert.Equal(expected, pipe.ToArray());
        Assert.Equal(1, pipe.FlushCount);
    }

    [Fact]
    public void ReadsGolangSnappyTestVector()
    {
        // golang/snappy TestReaderUncompressedDataOK.
        byte[] input = [.. StreamIdentifier, 0x01, 0x08, 0x00, 0x00, 0x68, 0x10, 0xe6, 0xb6, .. "abcd"u8];
        Assert.Equal("abcd"u8.ToArray(), ReadAll(input));
    }

    [Fact]
    public void WritesIdentifierOnlyOnce()
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe, leaveOpen: true);
        snappy.Flush();
        Assert.Equal(0, pipe.Available); // nothing written yet: no chunk, no identifier (as golang/snappy)
        snappy.Write("a"u8);
        snappy.Flush();
        snappy.Write("b"u8);
        snappy.Flush();
        List<(byte Type, byte[] Body)> chunks = ParseChunks(pipe.ToArray());
        Assert.Equal([0xff, 0x01, 0x01], chunks.Select(c => c.Type));
    }

    [Fact]
    public void CompressibleDataUsesCompressedChunks()
    {
        byte[] data = TestPayloads.Compressible(10_000, 1);
        byte[] framed = Frame(data);
        List<(byte Type, byte[] Body)> chunks = ParseChunks(framed);
        Assert.Equal([0xff, 0x00], chunks.Select(c => c.Type));
        Assert.True(framed.Length < data.Length / 2);
        Assert.Equal(data, IronSnappy.Snappy.Decode(chunks[1].Body.AsSpan(4)));
        Assert.Equal(SnappyFraming.MaskedChecksum(data), BinaryPrimitives.ReadUInt32LittleEndian(chunks[1].Body));
    }

    [Fact]
    public void IncompressibleDataUsesUncompressedChunks()
    {
        byte[] data = TestPayloads.Random(150_000, 2);
        List<(byte Type, byte[] Body)> chunks = ParseChunks(Frame(data));
        Assert.Equal([0xff, 0x01, 0x01, 0x01], chunks.Select(c => c.Type));
        Assert.Equal(data, chunks.Skip(1).SelectMany(c => c.Body.Skip(4)).ToArray());
    }

    [Theory]
    [InlineData(65535, new[] { 65535 })]
    [InlineData(65536, new[] { 65536 })]
    [InlineData(65537, new[] { 65536, 1 })]
    [InlineData(3 * 65536, new[] { 65536, 65536, 65536 })]
    public void SplitsChunksAtSixtyFourKiB(int size, int[] expectedChunkSizes)
    {
        byte[] data = TestPayloads.Random(size, size);
        List<(byte Type, byte[] Body)> chunks = ParseChunks(Frame(data));
        Assert.Equal(expectedChunkSizes, chunks.Skip(1).Select(c => c.Body.Length - 4));
        Assert.Equal(data, ReadAll(Frame(data)));
    }

    [Fact]
    public void FullBlockIsEmittedBeforeFlush()
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe, leaveOpen: true);
        snappy.Write(new byte[65535]);
        Assert.Equal(0, pipe.Available);
        snappy.Write(new byte[2]); // block full: first chunk goes to the inner stream, 1 byte stays
        Assert.True(pipe.Available > 0);
        Assert.Equal(0, pipe.FlushCount);
        Assert.Equal(65536, SnappyBlockDecoder.GetDecodedLength(ParseChunks(pipe.ToArray())[1].Body.AsSpan(4), out _));
    }

    [Fact]
    public void ReaderAcceptsRepeatedIdentifiersSkippableAndPaddingChunks()
    {
        byte[] a = Frame("first "u8.ToArray());
        byte[] b = Frame("second"u8.ToArray()); // starts with its own identifier
        byte[] skippable = [0x80, 0x03, 0x00, 0x00, 1, 2, 3];
        byte[] reserved = [0xfd, 0x00, 0x00, 0x00];
        byte[] padding = [0xfe, 0x05, 0x00, 0x00, 0, 0, 0, 0, 0];
        byte[] input = [.. a, .. skippable, .. reserved, .. padding, .. b, .. StreamIdentifier];
        Assert.Equal("first second"u8.ToArray(), ReadAll(input));
    }

    [Fact]
    public void ReaderSkipsLargeSkippableChunkLongerThanItsBuffer()
    {
        int length = (1 << 24) - 1;
        byte[] skippable = new byte[4 + length];
        skippable[0] = 0x99;
        skippable[1] = 0xff;
        skippable[2] = 0xff;
        skippable[3] = 0xff;
        byte[] input = [.. StreamIdentifier, .. skippable, .. Frame("x"u8.ToArray()).AsSpan(10)];
        Assert.Equal("x"u8.ToArray(), ReadAll(input));
    }

    [Theory]
    [InlineData(0x02)]
    [InlineData(0x42)]
    [InlineData(0x7f)]
    public void ReaderRejectsUnskippableChunks(byte chunkType)
    {
        byte[] input = [.. StreamIdentifier, chunkType, 0x01, 0x00, 0x00, 0x00];
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
    }

    [Fact]
    public void ReaderRejectsBadChecksum()
    {
        byte[] input = Frame("hello world, hello world"u8.ToArray());
        input[14] ^= 0x01; // first checksum byte of the data chunk
        Assert.Throws<InvalidDataException>(() => ReadAll(input));

        byte[] compressed = Frame(TestPayloads.Compressible(5000, 4));
        compressed[^1] ^= 0x40; // damage the compressed payload itself
        Assert.Throws<InvalidDataException>(() => ReadAll(compressed));
    }

    [Fact]
    public void ReaderRejectsEmptyUncompressedChunkWithZeroChecksum()
    {
        // golang/snappy TestReaderUncompressedDataNoPayload.
        byte[] input = [.. StreamIdentifier, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
    }

    [Theory]
    [InlineData(new byte[] { 0x01, 0x05, 0x00, 0x01 })] // uncompressed chunk of 65537 data bytes
    [InlineData(new byte[] { 0x00, 0x03, 0x00, 0x00 })] // compressed chunk shorter than its checksum
    [InlineData(new byte[] { 0x00, 0xff, 0xff, 0x01 })] // compressed chunk longer than any 64 KiB block
    [InlineData(new byte[] { 0xff, 0x05, 0x00, 0x00 })] // identifier with the wrong length
    public void ReaderRejectsBadChunkLengths(byte[] header)
    {
        byte[] input = [.. StreamIdentifier, .. header, .. new byte[8]];
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
    }

    [Fact]
    public void ReaderRejectsStreamWithoutIdentifier()
    {
        byte[] input = Frame("abc"u8.ToArray()).AsSpan(10).ToArray();
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
        byte[] wrongMagic = [0xff, 0x06, 0x00, 0x00, .. "sNaPpX"u8];
        Assert.Throws<InvalidDataException>(() => ReadAll(wrongMagic));
    }

    [Fact]
    public void ReaderRejectsTruncatedChunkButNotCleanEnd()
    {
        byte[] input = Frame(TestPayloads.Compressible(1000, 5));
        Assert.Equal(TestPayloads.Compressible(1000, 5), ReadAll(input));
        for (int cut = 11; cut < input.Length; cut += 7)
        {
            byte[] truncated = input.AsSpan(0, cut).ToArray();
            Assert.Throws<InvalidDataException>(() => ReadAll(truncated));
        }

        Assert.Empty(ReadAll([]));
        Assert.Empty(ReadAll(StreamIdentifier));
    }

    [Fact]
    public void IronSnappyStreamApiIsNotGolangCompatible()
    {
        // Why SnappyFrameStream exists instead of IronSnappy.Snappy.OpenReader/OpenWriter:
        // IronSnappy 1.3.0 checksums frames with unmasked CRC-32 (IEEE), so it rejects what
        // golang/snappy (nsqd, go-nsq) writes, and golang/snappy would reject its output.
        byte[] golang = [.. StreamIdentifier, 0x01, 0x08, 0x00, 0x00, 0x68, 0x10, 0xe6, 0xb6, .. "abcd"u8];
        Assert.ThrowsAny<IOException>(() => IronSnappy.Snappy.OpenReader(new MemoryStream(golang)).CopyTo(Stream.Null));
        Assert.Equal("abcd"u8.ToArray(), ReadAll(golang));

        using var theirs = new MemoryStream();
        using (Stream writer = IronSnappy.Snappy.OpenWriter(theirs))
        {
            writer.Write("abcd"u8);
        }

        Assert.Equal<byte>([0x11, 0xcd, 0x82, 0xed], theirs.ToArray().AsSpan(14, 4).ToArray()); // zlib crc32("abcd")
        Assert.Throws<InvalidDataException>(() => ReadAll(theirs.ToArray()));
    }

    [Fact]
    public void DisposeFlushesPendingDataAndOwnsInnerStream()
    {
        var inner = new MemoryStream();
        var snappy = new SnappyFrameStream(inner);
        snappy.Write("pending"u8);
        snappy.Dispose();
        Assert.Equal("pending"u8.ToArray(), ReadAll(inner.ToArray()));
        Assert.False(inner.CanRead); // disposed with the snappy stream
        Assert.Throws<ObjectDisposedException>(() => snappy.Write("x"u8));
    }

    internal static byte[] Frame(byte[] data)
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe, leaveOpen: true);
        snappy.Write(data);
        snappy.Flush();
        return pipe.ToArray();
    }

    private static byte[] ReadAll(byte[] input)
    {
        using var snappy = new SnappyFrameStream(new MemoryStream(input));
        using var output = new MemoryStream();
        snappy.CopyTo(output);
        return output.ToArray();
    }

    private static List<(byte Type, byte[] Body)> ParseChunks(byte[] framed)
    {
        var chunks = new List<(byte, byte[])>();
        int i = 0;
        while (i < framed.Length)
        {
            int length = framed[i + 1] | (framed[i + 2] << 8) | (framed[i + 3] << 16);
            chunks.Add((framed[i], framed.AsSpan(i + 4, length).ToArray()));
            i += 4 + length;
        }

        return chunks;
    }
}
