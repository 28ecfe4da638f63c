using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NsqSharp.Common;

/// <summary>
/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected 0x82F63B78), as used by iSCSI, ext4 and Kafka record
/// batches. Built on <see cref="BitOperations.Crc32C(uint, ulong)"/>, which is the SSE4.2 / ARMv8 CRC instruction
/// where the CPU has it. Standard init/final xor of 0xFFFFFFFF: Compute("123456789") == 0xE3069283.
/// </summary>
public static class Crc32C
{
    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFFFFFFu, data);

    /// <summary>Continues a CRC: <c>Append(Compute(a), b) == Compute(a ++ b)</c>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data) => ~Update(~crc, data);

    /// <summary>Raw (not pre/post inverted) CRC update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;

        // Four independent 8-byte loads per iteration keep the loop overhead low; the CRC instruction chain is
        // the limit (about 8 bytes every 3 cycles), far above what a partition log needs.
        while (length - i >= 32)
        {
            crc = BitOperations.Crc32C(crc, ReadU64(ref Unsafe.Add(ref p, i)));
            crc = BitOperations.Crc32C(crc, ReadU64(ref Unsafe.Add(ref p, i + 8)));
            crc = BitOperations.Crc32C(crc, ReadU64(ref Unsafe.Add(ref p, i + 16)));
            crc = BitOperations.Crc32C(crc, ReadU64(ref Unsafe.Add(ref p, i + 24)));
            i += 32;
        }

        while (length - i >= 8)
        {
            crc = BitOperations.Crc32C(crc, ReadU64(ref Unsafe.Add(ref p, i)));
            i += 8;
        }

        while (i < length)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.Add(ref p, i));
            i++;
        }

        return crc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadU64(ref byte source)
    {
        ulong value = Unsafe.ReadUnaligned<ulong>(ref source);
        // The CRC consumes bytes in memory order; the ulong overload treats the value as little-endian bytes.
        return BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
    }
}
