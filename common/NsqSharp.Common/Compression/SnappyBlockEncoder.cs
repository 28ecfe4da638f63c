using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Snappy block-format encoder ported from golang/snappy (encode.go / encode_other.go).
/// IronSnappy only exposes allocating byte[] APIs; this span-based port lets the framing stream
/// compress into a reused buffer. Output is standard Snappy, decodable by any implementation.
/// </summary>
internal static class SnappyBlockEncoder
{
    // golang/snappy constants: blocks are compressed independently, 64 KiB at a time.
    private const int MaxBlockSize = 65536;
    private const int InputMargin = 16 - 1;
    private const int MinNonLiteralBlockSize = 1 + 1 + InputMargin;
    private const int MaxTableSize = 1 << 14;

    private const byte TagLiteral = 0x00;
    private const byte TagCopy1 = 0x01;
    private const byte TagCopy2 = 0x02;

    /// <summary>Worst-case encoded size of <paramref name="sourceLength"/> bytes (golang MaxEncodedLen).</summary>
    public static int MaxEncodedLength(int sourceLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sourceLength);
        long n = 32L + sourceLength + (sourceLength / 6);
        if (n > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(sourceLength), "Source too large for Snappy.");
        }

        return (int)n;
    }

    /// <summary>
    /// Encodes <paramref name="source"/> into <paramref name="destination"/> (which must hold at least
    /// <see cref="MaxEncodedLength"/> bytes) and returns the encoded length.
    /// </summary>
    [SkipLocalsInit]
    public static int Encode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < MaxEncodedLength(source.Length))
        {
            throw new ArgumentException("Destination is smaller than MaxEncodedLength(source).", nameof(destination));
        }

        int d = PutUvarint(destination, (uint)source.Length);
        // 32 KiB on the stack (Go uses a stack array too); EncodeBlock clears the part it uses.
        Span<ushort> table = stackalloc ushort[MaxTableSize];
        while (!source.IsEmpty)
        {
            ReadOnlySpan<byte> block = source.Length > MaxBlockSize ? source[..MaxBlockSize] : source;
            source = source[block.Length..];
            d += block.Length < MinNonLiteralBlockSize
                ? EmitLiteral(destination[d..], block)
                : EncodeBlock(destination[d..], block, table);
        }

        return d;
    }

    private static int PutUvarint(Span<byte> destination, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    private static uint Load32(ReadOnlySpan<byte> b, int i) => BinaryPrimitives.ReadUInt32LittleEndian(b[i..]);

    private static ulong Load64(ReadOnlySpan<byte> b, int i) => BinaryPrimitives.ReadUInt64LittleEndian(b[i..]);

    private static int Hash(uint u, int shift) => (int)((u * 0x1e35a7bdu) >> shift);

    // Requires 0 < literal.Length <= 65536 (one block).
    private static int EmitLiteral(Span<byte> dst, ReadOnlySpan<byte> literal)
    {
        int i;
        uint n = (uint)(literal.Length - 1);
        if (n < 60)
        {
            dst[0] = (byte)((n << 2) | TagLiteral);
            i = 1;
        }
        else if (n < 1 << 8)
        {
            dst[0] = (60 << 2) | TagLiteral;
            dst[1] = (byte)n;
            i = 2;
        }
        else
        {
            dst[0] = (61 << 2) | TagLiteral;
            dst[1] = (byte)n;
            dst[2] = (byte)(n >> 8);
            i = 3;
        }

        literal.CopyTo(dst[i..]);
        return i + literal.Length;
    }

    // Requires 0 < offset <= 65535 and 4 <= length <= 65535.
    private static int EmitCopy(Span<byte> dst, int offset, int length)
    {
        int i = 0;
        // Emit length-64 copies while leaving at least 4 bytes for the last one.
        while (length >= 68)
        {
            dst[i] = (63 << 2) | TagCopy2;
            dst[i + 1] = (byte)offset;
            dst[i + 2] = (byte)(offset >> 8);
            i += 3;
            length -= 64;
        }

        if (length > 64)
        {
            dst[i] = (59 << 2) | TagCopy2;
            dst[i + 1] = (byte)offset;
            dst[i + 2] = (byte)(offset >> 8);
            i += 3;
            length -= 60;
        }

        if (length >= 12 || offset >= 2048)
        {
            dst[i] = (byte)(((length - 1) << 2) | TagCopy2);
            dst[i + 1] = (byte)offset;
            dst[i + 2] = (byte)(offset >> 8);
            return i + 3;
        }

        dst[i] = (byte)(((offset >> 8) << 5) | ((length - 4) << 2) | TagCopy1);
        dst[i + 1] = (byte)offset;
        return i + 2;
    }

    // Requires MinNonLiteralBlockSize <= src.Length <= MaxBlockSize.
    private static int EncodeBlock(Span<byte> dst, ReadOnlySpan<byte> src, Span<ushort> fullTable)
    {
        int shift = 32 - 8;
        int tableSize = 1 << 8;
        while (tableSize < MaxTableSize && tableSize < src.Length)
        {
            tableSize *= 2;
            shift--;
        }

        Span<ushort> table = fullTable[..tableSize];
        table.Clear();

        int d = 0;
        int sLimit = src.Length - InputMargin;
        int nextEmit = 0;
        int s = 1;
        int nextHash = Hash(Load32(src, s), shift);

        while (true)
        {
            // Heuristic match skipping: after 32 misses, look at every other byte, and so on.
            int skip = 32;
            int nextS = s;
            int candidate;
            while (true)
            {
                s = nextS;
                int bytesBetweenHashLookups = skip >> 5;
                nextS = s + bytesBetweenHashLookups;
                skip += bytesBetweenHashLookups;
                if (nextS > sLimit)
                {
                    goto EmitRemainder;
                }

                candidate = table[nextHash];
                table[nextHash] = (ushort)s;
                nextHash = Hash(Load32(src, nextS), shift);
                if (Load32(src, s) == Load32(src, candidate))
                {
                    break;
                }
            }

            d += EmitLiteral(dst[d..], src[nextEmit..s]);

            // Emit copies while the bytes right after a copy keep matching.
            while (true)
            {
                int matchBase = s;
                s += 4;
                for (int i = candidate + 4; s < src.Length && src[i] == src[s]; i++, s++)
                {
                }

                d += EmitCopy(dst[d..], matchBase - candidate, s - matchBase);
                nextEmit = s;
                if (s >= sLimit)
                {
                    goto EmitRemainder;
                }

                ulong x = Load64(src, s - 1);
                int prevHash = Hash((uint)x, shift);
                table[prevHash] = (ushort)(s - 1);
                int currHash = Hash((uint)(x >> 8), shift);
                candidate = table[currHash];
                table[currHash] = (ushort)s;
                if ((uint)(x >> 8) != Load32(src, candidate))
                {
                    nextHash = Hash((uint)(x >> 16), shift);
                    s++;
                    break;
                }
            }
        }

    EmitRemainder:
        if (nextEmit < src.Length)
        {
            d += EmitLiteral(dst[d..], src[nextEmit..]);
        }

        return d;
    }
}
