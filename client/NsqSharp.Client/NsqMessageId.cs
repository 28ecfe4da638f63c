using System.Runtime.InteropServices;
using System.Text;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client;

/// <summary>
/// The 16-byte message id nsqd sends with every message and expects back in FIN/REQ/TOUCH. It is opaque
/// (upstream: a hex GUID); stored inline so holding or comparing ids allocates nothing.
/// </summary>
public readonly record struct NsqMessageId
{
    /// <summary>Length of an id on the wire.</summary>
    public const int Length = 16;

    // The 16 wire bytes as they are in memory (native reads), so the struct itself is the wire form and
    // FIN/REQ/TOUCH write it without a copy to the stack (see AsBytes).
    private readonly ulong _first;
    private readonly ulong _second;

    private NsqMessageId(ulong first, ulong second)
    {
        _first = first;
        _second = second;
    }

    /// <summary>Reads an id from exactly 16 bytes.</summary>
    /// <exception cref="ArgumentException">The span is not 16 bytes long.</exception>
    public static NsqMessageId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"a message id is {Length} bytes, got {bytes.Length}", nameof(bytes));
        }

        return new NsqMessageId(MemoryMarshal.Read<ulong>(bytes), MemoryMarshal.Read<ulong>(bytes[8..]));
    }

    /// <summary>Parses the 16-character text form (as printed by <see cref="ToString"/>).</summary>
    public static bool TryParse(string? text, out NsqMessageId id)
    {
        id = default;
        if (text is not { Length: Length })
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Length];
        for (var i = 0; i < Length; i++)
        {
            if (text[i] is < (char)0x21 or > (char)0x7E)
            {
                return false;
            }

            bytes[i] = (byte)text[i];
        }

        id = FromBytes(bytes);
        return true;
    }

    /// <summary>Writes the 16 wire bytes into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        MemoryMarshal.Write(destination, in _first);
        MemoryMarshal.Write(destination[8..], in _second);
    }

    /// <summary>The 16 wire bytes of <paramref name="id"/>, in place.</summary>
    internal static ReadOnlySpan<byte> AsBytes(in NsqMessageId id) => MemoryMarshal.AsBytes(new ReadOnlySpan<NsqMessageId>(in id));

    /// <summary>
    /// NsqSharp servers encode (partition, offset) in the id; this decodes them. Against upstream nsqd the
    /// id is a GUID and the result is meaningless or false.
    /// </summary>
    public bool TryGetLogPosition(out int partition, out long offset)
    {
        Span<byte> bytes = stackalloc byte[Length];
        CopyTo(bytes);
        if (MessageId.TryParse(bytes, out var position))
        {
            partition = position.Partition;
            offset = position.Offset;
            return true;
        }

        partition = 0;
        offset = 0;
        return false;
    }

    /// <summary>The id as 16 ASCII characters.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        CopyTo(bytes);
        return Encoding.ASCII.GetString(bytes);
    }
}
