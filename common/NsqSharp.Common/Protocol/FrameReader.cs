using System.Buffers;
using System.Buffers.Binary;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// Reads server frames <c>[int32 size][int32 type][data]</c>, checking the size against the reader's limit
/// (a corrupt or hostile size must not make it buffer gigabytes) and the type against the three known ones.
/// </summary>
public static class FrameReader
{
    private const int HeaderLength = ProtocolConstants.FrameHeaderLength;

    /// <summary>Checks a frame header and returns the length of the data that follows it.</summary>
    /// <exception cref="InvalidDataException">Size below 4 or data above <paramref name="maxDataLength"/>, or an unknown type.</exception>
    public static int ReadHeader(ReadOnlySpan<byte> header, int maxDataLength, out FrameType type)
    {
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        if (size < 4 || size - 4 > maxDataLength)
        {
            throw new InvalidDataException($"invalid frame size {size} (max {maxDataLength})");
        }

        var rawType = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (rawType is < (int)FrameType.Response or > (int)FrameType.Message)
        {
            throw new InvalidDataException($"unknown frame type {rawType}");
        }

        type = (FrameType)rawType;
        return size - 4;
    }

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/> (a PipeReader's), or returns false and
    /// leaves it as it is. <paramref name="data"/> is a slice of the input: consume it before advancing the reader.
    /// </summary>
    /// <exception cref="InvalidDataException">See <see cref="ReadHeader"/>; thrown as soon as the header is in.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxDataLength, out FrameType type, out ReadOnlySequence<byte> data)
    {
        type = default;
        data = default;
        if (buffer.Length < HeaderLength)
        {
            return false;
        }

        int dataLength;
        var first = buffer.FirstSpan;
        if (first.Length >= HeaderLength)
        {
            dataLength = ReadHeader(first, maxDataLength, out type); // the usual case: no copy of the header
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderLength];
            buffer.Slice(0, HeaderLength).CopyTo(header);
            dataLength = ReadHeader(header, maxDataLength, out type);
        }

        if (buffer.Length < HeaderLength + (long)dataLength)
        {
            return false;
        }

        data = buffer.Slice(HeaderLength, dataLength);
        buffer = buffer.Slice(HeaderLength + (long)dataLength);
        return true;
    }

    /// <summary>
    /// Reads one frame from a stream with exact-length reads, so nothing past it is consumed (connection setup,
    /// before a TLS or compression upgrade; tests). Each call allocates its arrays: not for a hot path.
    /// </summary>
    /// <exception cref="EndOfStreamException">The stream ended within the frame.</exception>
    public static async ValueTask<(FrameType Type, byte[] Data)> ReadAsync(Stream stream, int maxDataLength, CancellationToken cancellationToken)
    {
        var header = new byte[HeaderLength];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        var data = new byte[ReadHeader(header, maxDataLength, out var type)];
        await stream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
        return (type, data);
    }
}
