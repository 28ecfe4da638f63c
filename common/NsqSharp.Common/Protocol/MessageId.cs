namespace NsqSharp.Common.Protocol;

/// <summary>
/// The 16-byte NSQ message id. Ours is the lowercase hex of (partition &lt;&lt; 48 | offset), so an id
/// is stable across redelivery, restart and failover and maps straight back to the log position.
/// Clients treat it as 16 opaque bytes.
/// </summary>
public readonly record struct MessageId(int Partition, long Offset)
{
    public const int Length = 16;
    public const long MaxOffset = (1L << 48) - 1;
    public const int MaxPartition = (1 << 15) - 1;

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    public ulong Value => ((ulong)(uint)Partition << 48) | (ulong)Offset;

    public void WriteTo(Span<byte> destination)
    {
        var value = Value;
        for (var i = Length - 1; i >= 0; i--)
        {
            destination[i] = HexDigits[(int)(value & 0xF)];
            value >>= 4;
        }
    }

    public override string ToString()
    {
        Span<byte> buffer = stackalloc byte[Length];
        WriteTo(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer);
    }

    /// <summary>Parses 16 hex bytes (either case). Returns false for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<byte> hex, out MessageId id)
    {
        id = default;
        if (hex.Length != Length)
        {
            return false;
        }

        ulong value = 0;
        foreach (var b in hex)
        {
            int digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | (uint)digit;
        }

        var partition = (int)(value >> 48);
        if (partition > MaxPartition)
        {
            return false;
        }

        id = new MessageId(partition, (long)(value & MaxOffset));
        return true;
    }

    public static bool TryParse(string hex, out MessageId id)
    {
        Span<byte> buffer = stackalloc byte[Length];
        if (hex.Length != Length)
        {
            id = default;
            return false;
        }

        for (var i = 0; i < Length; i++)
        {
            if (hex[i] > 127)
            {
                id = default;
                return false;
            }

            buffer[i] = (byte)hex[i];
        }

        return TryParse(buffer, out id);
    }

}
