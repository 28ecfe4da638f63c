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
        Assert.Equal(StreamIdentifier, pipe.ToArray()); // Snappier sends the identifier at once; data waits for flush
        Assert.Equal(0, pipe.FlushCount);
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
        Assert.Equal(StreamIdentifier.Length, pipe.Available);
        snappy.Write(new byte[2]); // block full: first chunk goes to the inner stream, 1 byte stays
        Assert.True(pipe.Available > StreamIdentifier.Length);
        Assert.Equal(0, pipe.FlushCount);
        Assert.Equal(65536, IronSnappy.Snappy.Decode(ParseChunks(pipe.ToArray())[1].Body.AsSpan(4)).Length);
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

    [Theory]
    [InlineData(1)]
    [InlineData(200)]
    [InlineData(16_384)]
    [InlineData(65_536)]
    public void ReadsChunksCompressedByAGolangSnappyPort(int size)
    {
        // IronSnappy ports golang/snappy's encoder: these are the blocks nsqd and go-nsq send.
        foreach (byte[] data in new[] { TestPayloads.Compressible(size, size), TestPayloads.Random(size, size) })
        {
            byte[] input = [.. StreamIdentifier, .. CompressedChunk(IronSnappy.Snappy.Encode(data), SnappyFraming.MaskedChecksum(data))];
            Assert.Equal(data, ReadAll(input));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x81, 0x80, 0x04 })] // 65537
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x04 })] // 1 GiB
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f })] // 2^32 - 1 (negative as an int)
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x7f })] // not a 32-bit length at all
    public void ReaderRefusesChunksDeclaringMoreThanABlockWithoutAllocatingThem(byte[] declaredLength)
    {
        // A hostile peer's tiny chunk announcing a huge block must not make us allocate it.
        byte[] input = [.. StreamIdentifier, .. CompressedChunk([.. declaredLength, 0x00, (byte)'a'], 0)];
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Theory]
    [InlineData(new byte[] { 2, 0, 1, 0x01, 1 })] // copy running past the declared length of 2
    [InlineData(new byte[] { 3, 0, 1 })] // decodes fewer bytes than declared
    [InlineData(new byte[] { 4, 0, 1, 0x02, 5, 0 })] // copy offset before the start of the output
    [InlineData(new byte[] { 4, 0, 1, 0x02, 0, 0 })] // zero offset
    [InlineData(new byte[] { 5, 4 << 2, 1, 2 })] // literal longer than the input
    [InlineData(new byte[] { 0x80 })] // unterminated length
    public void ReaderRejectsCorruptBlocks(byte[] block)
    {
        byte[] input = [.. StreamIdentifier, .. CompressedChunk(block, 0)];
        Assert.Throws<InvalidDataException>(() => ReadAll(input));
    }

    [Fact]
    public void RandomCorruptionOnlyEverThrowsInvalidData()
    {
        var random = new Random(5);
        byte[] original = Frame(TestPayloads.Compressible(3000, 9));
        for (int i = 0; i < 5000; i++)
        {
            byte[] mutated = (byte[])original.Clone();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                mutated[random.Next(10, mutated.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                mutated = mutated.AsSpan(0, random.Next(mutated.Length)).ToArray();
            }

            try
            {
                ReadAll(mutated);
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    [Fact]
    public void SnappiersStreamReaderIsTooLaxForAPeerSoReadsKeepGolangsChecks()
    {
        // Why reads do not go through Snappier's SnappyStream (Decompress) as writes do. If a later
        // Snappier enforces these, this fails and the reader can be reconsidered.
        static long SnappierReads(byte[] input)
        {
            using var snappier = new Snappier.SnappyStream(new MemoryStream(input), System.IO.Compression.CompressionMode.Decompress);
            using var output = new MemoryStream();
            snappier.CopyTo(output);
            return output.Length;
        }

        byte[] framed = Frame(TestPayloads.Compressible(1000, 5));
        Assert.Equal(1000, SnappierReads(framed.AsSpan(10).ToArray())); // no stream identifier: accepted
        Assert.True(SnappierReads(framed.AsSpan(0, framed.Length - 3).ToArray()) < 1000); // truncated: a clean end
        byte[] huge = [.. StreamIdentifier, .. CompressedChunk([0x80, 0x80, 0x80, 0x08, 0x00, (byte)'a'], 0)]; // declares 16 MiB
        long before = GC.GetAllocatedBytesForCurrentThread();
        SnappierReads(huge);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before >= 16 << 20); // allocated what the peer declared

        Assert.Throws<InvalidDataException>(() => ReadAll(framed.AsSpan(10).ToArray()));
        Assert.Throws<InvalidDataException>(() => ReadAll(framed.AsSpan(0, framed.Length - 3).ToArray()));
        Assert.Throws<InvalidDataException>(() => ReadAll(huge));
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

    [Fact]
    public void DisposeAfterABrokenTransportStillClosesIt()
    {
        var inner = new BrokenStream();
        var snappy = new SnappyFrameStream(inner);
        snappy.Write("pending"u8); // the identifier goes out; the data waits for the flush
        inner.Broken = true;
        Assert.Throws<IOException>(() => snappy.Dispose()); // the flush's failure, reported once
        Assert.True(inner.Disposed);
    }

    private sealed class BrokenStream : MemoryStream
    {
        public bool Broken { get; set; }

        public bool Disposed { get; private set; }

        // A derived MemoryStream's span Write comes here too (through Stream.Write).
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Broken)
            {
                throw new IOException("connection reset");
            }

            base.Write(buffer, offset, count);
        }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
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

    private static byte[] CompressedChunk(byte[] block, uint maskedChecksum)
    {
        int length = 4 + block.Length;
        byte[] chunk = [0x00, (byte)length, (byte)(length >> 8), (byte)(length >> 16), 0, 0, 0, 0, .. block];
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), maskedChecksum);
        return chunk;
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
