using System.Buffers;
using System.Buffers.Binary;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Protocol;

/// <summary>
/// Splits server frames <c>[int32 size][int32 type][data]</c> (size = 4 + data length) off a byte sequence.
/// Returns slices of the input, so the caller must consume them before advancing its reader.
/// </summary>
internal static class FrameReader
{
    public const int HeaderLength = 8;

    /// <summary>Reads one whole frame if the buffer holds it; otherwise returns false and leaves the buffer as is.</summary>
    /// <exception cref="NsqProtocolException">Frame size below 4 or above <paramref name="maxFrameSize"/>, or unknown type.</exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out FrameType type,
        out ReadOnlySequence<byte> data)
    {
        type = default;
        data = default;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        var size = ReadHeader(header, maxFrameSize, out type);
        if (buffer.Length < 4 + (long)size)
        {
            return false;
        }

        data = buffer.Slice(HeaderLength, size - 4);
        buffer = buffer.Slice(4 + (long)size);
        return true;
    }

    /// <summary>Validates a frame header and returns its size field (4 + data length).</summary>
    public static int ReadHeader(ReadOnlySpan<byte> header, int maxFrameSize, out FrameType type)
    {
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        if (size < 4 || size - 4 > maxFrameSize)
        {
            throw new NsqProtocolException($"invalid frame size {size} (max {maxFrameSize})");
        }

        var rawType = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (rawType is < (int)FrameType.Response or > (int)FrameType.Message)
        {
            throw new NsqProtocolException($"unknown frame type {rawType}");
        }

        type = (FrameType)rawType;
        return size;
    }
}
