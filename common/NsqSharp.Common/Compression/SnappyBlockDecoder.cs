using System.Buffers.Binary;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Snappy block-format decoder ported from golang/snappy (decode.go / decode_other.go), decoding
/// into a caller-supplied span. Every length and offset is checked, so hostile input yields
/// <see cref="InvalidDataException"/> and never reads or writes out of bounds.
/// </summary>
internal static class SnappyBlockDecoder
{
    private const byte TagLiteral = 0x00;
    private const byte TagCopy1 = 0x01;
    private const byte TagCopy2 = 0x02;

    /// <summary>
    /// Reads the uvarint preamble: the decoded length and the number of bytes it occupies.
    /// </summary>
    public static int GetDecodedLength(ReadOnlySpan<byte> source, out int headerLength)
    {
        ulong value = 0;
        int shift = 0;
        // Same rules as Go's binary.Uvarint: at most 10 bytes, no 64-bit overflow.
        for (int i = 0; i < source.Length && i < 10; i++)
        {
            byte b = source[i];
            if (b < 0x80)
            {
                if (i == 9 && b > 1)
                {
                    break;
                }

                value |= (ulong)b << shift;
                if (value > int.MaxValue)
                {
                    throw Corrupt("decoded length too large");
                }

                headerLength = i + 1;
                return (int)value;
            }

            value |= (ulong)(b & 0x7f) << shift;
            shift += 7;
        }

        throw Corrupt("bad length preamble");
    }

    /// <summary>
    /// Decodes a whole block into <paramref name="destination"/>, which must be at least the
    /// block's decoded length; returns that length.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int decodedLength = GetDecodedLength(source, out int headerLength);
        if (decodedLength > destination.Length)
        {
            throw new ArgumentException("Destination is smaller than the decoded length.", nameof(destination));
        }

        DecodeBody(source[headerLength..], destination[..decodedLength]);
        return decodedLength;
    }

    private static void DecodeBody(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int d = 0;
        int s = 0;
        while (s < src.Length)
        {
            byte tag = src[s];
            long length;
            long offset;
            switch (tag & 0x03)
            {
                case TagLiteral:
                {
                    uint x = (uint)tag >> 2;
                    if (x >= 60)
                    {
                        int extra = (int)x - 59; // 1..4 little-endian length bytes follow
                        if (src.Length - s - 1 < extra)
                        {
                            throw Corrupt("truncated literal length");
                        }

                        x = 0;
                        for (int i = extra; i >= 1; i--)
                        {
                            x = (x << 8) | src[s + i];
                        }

                        s += extra;
                    }

                    s++;
                    length = (long)x + 1;
                    if (length > dst.Length - d || length > src.Length - s)
                    {
                        throw Corrupt("literal overruns block");
                    }

                    src.Slice(s, (int)length).CopyTo(dst[d..]);
                    d += (int)length;
                    s += (int)length;
                    continue;
                }

                case TagCopy1:
                    if (src.Length - s < 2)
                    {
                        throw Corrupt("truncated copy");
                    }

                    length = 4 + ((tag >> 2) & 0x7);
                    offset = ((tag & 0xe0) << 3) | src[s + 1];
                    s += 2;
                    break;

                case TagCopy2:
                    if (src.Length - s < 3)
                    {
                        throw Corrupt("truncated copy");
                    }

                    length = 1 + (tag >> 2);
                    offset = src[s + 1] | (src[s + 2] << 8);
                    s += 3;
                    break;

                default: // TagCopy4
                    if (src.Length - s < 5)
                    {
                        throw Corrupt("truncated copy");
                    }

                    length = 1 + (tag >> 2);
                    offset = (long)BinaryPrimitives.ReadUInt32LittleEndian(src[(s + 1)..]);
                    s += 5;
                    break;
            }

            if (offset <= 0 || d < offset || length > dst.Length - d)
            {
                throw Corrupt("copy out of range");
            }

            int len = (int)length;
            int from = d - (int)offset;
            if (offset >= length)
            {
                dst.Slice(from, len).CopyTo(dst[d..]);
            }
            else
            {
                // Overlapping copy repeats the last `offset` bytes, so it must go forward byte by byte.
                for (int i = 0; i < len; i++)
                {
                    dst[d + i] = dst[from + i];
                }
            }

            d += len;
        }

        if (d != dst.Length)
        {
            throw Corrupt("decoded length mismatch");
        }
    }

    private static InvalidDataException Corrupt(string detail) => new("snappy: corrupt input (" + detail + ")");
}
