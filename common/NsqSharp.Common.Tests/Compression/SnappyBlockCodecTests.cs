using NsqSharp.Common.Compression;
using Xunit;

namespace NsqSharp.Common.Tests.Compression;

/// <summary>The span-based block codec checked against IronSnappy (a port of golang/snappy).</summary>
public class SnappyBlockCodecTests
{
    public static TheoryData<int> Sizes => [0, 1, 16, 17, 100, 1000, 65535, 65536, 65537, 200_000];

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EncodedBlocksDecodeWithIronSnappy(int size)
    {
        foreach (byte[] data in new[] { TestPayloads.Random(size, size), TestPayloads.Compressible(size, size), new byte[size] })
        {
            byte[] encoded = Encode(data);
            Assert.Equal(data, IronSnappy.Snappy.Decode(encoded));
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void DecodesIronSnappyBlocks(int size)
    {
        foreach (byte[] data in new[] { TestPayloads.Random(size, size + 1), TestPayloads.Compressible(size, size + 1), new byte[size] })
        {
            byte[] encoded = IronSnappy.Snappy.Encode(data);
            byte[] decoded = new byte[SnappyBlockDecoder.GetDecodedLength(encoded, out _)];
            Assert.Equal(data.Length, SnappyBlockDecoder.Decode(encoded, decoded));
            Assert.Equal(data, decoded);
        }
    }

    [Fact]
    public void EncodesByteForByteLikeIronSnappy()
    {
        // IronSnappy is a port of golang/snappy; identical output means our port made the same choices.
        foreach (int size in new[] { 17, 100, 5000, 65536, 150_000 })
        {
            byte[] data = TestPayloads.Compressible(size, size);
            Assert.Equal(IronSnappy.Snappy.Encode(data), Encode(data));
        }
    }

    [Fact]
    public void CompressesRepetitiveData()
    {
        byte[] data = TestPayloads.Compressible(65536, 3);
        Assert.True(Encode(data).Length < data.Length / 2);
        Assert.True(Encode(new byte[65536]).Length < 4000);
    }

    [Fact]
    public void DecodesHandWrittenElements()
    {
        // len 11: literal "abcd", copy1 len 4 offset 4 ("abcd"), copy2 len 3 offset 1 ("ddd").
        byte[] block = [11, 3 << 2, (byte)'a', (byte)'b', (byte)'c', (byte)'d', 0x01, 4, (2 << 2) | 2, 1, 0];
        byte[] output = new byte[11];
        SnappyBlockDecoder.Decode(block, output);
        Assert.Equal("abcdabcdddd"u8.ToArray(), output);
    }

    [Theory]
    [InlineData(new byte[] { })] // no preamble
    [InlineData(new byte[] { 0x80 })] // unterminated varint
    [InlineData(new byte[] { 5, 4 << 2, 1, 2 })] // literal longer than input
    [InlineData(new byte[] { 2, 0, 1, 0x01, 1 })] // copy1 with length 4 past the decoded length
    [InlineData(new byte[] { 4, 0, 1, 0x02, 5, 0 })] // copy2 offset beyond output
    [InlineData(new byte[] { 4, 0, 1, 0x02, 0, 0 })] // zero offset
    [InlineData(new byte[] { 3, 0, 1 })] // decodes fewer bytes than announced
    [InlineData(new byte[] { 1, 0xfc, 0xff, 0xff, 0xff, 0xff })] // 4-byte literal length overflowing
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x7f })] // decoded length beyond int.MaxValue
    public void RejectsCorruptBlocks(byte[] block)
    {
        byte[] output = new byte[16];
        Assert.Throws<InvalidDataException>(() => SnappyBlockDecoder.Decode(block, output));
    }

    [Fact]
    public void RandomCorruptionOnlyEverThrowsInvalidData()
    {
        var random = new Random(5);
        byte[] original = Encode(TestPayloads.Compressible(3000, 9));
        byte[] output = new byte[70_000];
        for (int i = 0; i < 5000; i++)
        {
            byte[] mutated = (byte[])original.Clone();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                mutated = mutated.AsSpan(0, random.Next(mutated.Length)).ToArray();
            }

            try
            {
                int length = SnappyBlockDecoder.GetDecodedLength(mutated, out _);
                if (length <= output.Length)
                {
                    SnappyBlockDecoder.Decode(mutated, output);
                }
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    private static byte[] Encode(byte[] data)
    {
        byte[] buffer = new byte[SnappyBlockEncoder.MaxEncodedLength(data.Length)];
        int n = SnappyBlockEncoder.Encode(data, buffer);
        return buffer.AsSpan(0, n).ToArray();
    }
}
