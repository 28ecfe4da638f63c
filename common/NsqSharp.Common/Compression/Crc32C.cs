using System.Buffers.Binary;
using System.Numerics;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Standard CRC-32C (Castagnoli; init 0xFFFFFFFF, final xor 0xFFFFFFFF, reflected), as used by the
/// Snappy framing format and the broker's log batches. <see cref="BitOperations.Crc32C(uint, ulong)"/>
/// maps to the SSE4.2 / ARMv8 CRC instructions and falls back to software elsewhere.
/// </summary>
public static class Crc32C
{
    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>
    /// Continues a finished CRC-32C over more bytes: Append(Compute(a), b) == Compute(a ++ b).
    /// </summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    // Raw register update without the init/final inversion.
    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
