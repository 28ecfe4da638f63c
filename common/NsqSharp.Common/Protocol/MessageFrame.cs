using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// The data of a message frame: <c>[int64 timestamp ns][uint16 attempts][16-byte id][body]</c>. Writes whole
/// frames in place (the broker's output buffer, a fake's prebuilt chunk); reads fields straight off the
/// received bytes, so a reader copies nothing but the body it keeps.
/// </summary>
public static class MessageFrame
{
    public const int HeaderLength = ProtocolConstants.MessageHeaderLength;

    private const int FrameHeaderLength = ProtocolConstants.FrameHeaderLength;
    private const int AttemptsOffset = 8;
    private const int IdOffset = 10;

    /// <summary>Bytes a whole message frame (frame header included) with a body of <paramref name="bodyLength"/> takes.</summary>
    public static int FrameLength(int bodyLength) => FrameWriter.Length(HeaderLength + bodyLength);

    /// <summary>Writes a whole frame with our id (hex of partition and offset); returns its length.</summary>
    public static int Write(Span<byte> destination, long timestampNs, ushort attempts, MessageId id, ReadOnlySpan<byte> body)
    {
        WriteHeaders(destination, timestampNs, attempts, body.Length);
        id.WriteTo(destination[(FrameHeaderLength + IdOffset)..]);
        body.CopyTo(destination[(FrameHeaderLength + HeaderLength)..]);
        return FrameLength(body.Length);
    }

    /// <summary>Writes a whole frame with an id given as its 16 bytes (any opaque id, as upstream's); returns its length.</summary>
    public static int Write(Span<byte> destination, long timestampNs, ushort attempts, ReadOnlySpan<byte> id, ReadOnlySpan<byte> body)
    {
        if (id.Length != MessageId.Length)
        {
            throw new ArgumentException($"a message id is {MessageId.Length} bytes, got {id.Length}", nameof(id));
        }

        WriteHeaders(destination, timestampNs, attempts, body.Length);
        id.CopyTo(destination[(FrameHeaderLength + IdOffset)..]);
        body.CopyTo(destination[(FrameHeaderLength + HeaderLength)..]);
        return FrameLength(body.Length);
    }

    /// <summary>
    /// The message header of a frame's data: a view of the data when its first segment holds all 26 bytes
    /// (nearly always), else a copy in <paramref name="scratch"/> (at least <see cref="HeaderLength"/> bytes).
    /// </summary>
    /// <exception cref="InvalidDataException">The data is shorter than a message header.</exception>
    public static ReadOnlySpan<byte> Header(in ReadOnlySequence<byte> data, Span<byte> scratch)
    {
        CheckLength(data.Length);
        var first = data.FirstSpan;
        if (first.Length >= HeaderLength)
        {
            return first[..HeaderLength];
        }

        data.Slice(0, HeaderLength).CopyTo(scratch);
        return scratch[..HeaderLength];
    }

    /// <summary>The message header at the start of contiguous frame data.</summary>
    /// <exception cref="InvalidDataException">The data is shorter than a message header.</exception>
    public static ReadOnlySpan<byte> Header(ReadOnlySpan<byte> data)
    {
        CheckLength(data.Length);
        return data[..HeaderLength];
    }

    public static long Timestamp(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64BigEndian(header);

    public static ushort Attempts(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt16BigEndian(header[AttemptsOffset..]);

    public static ReadOnlySpan<byte> Id(ReadOnlySpan<byte> header) => header.Slice(IdOffset, MessageId.Length);

    /// <summary>The body: what follows the header in the frame data.</summary>
    public static ReadOnlySpan<byte> Body(ReadOnlySpan<byte> data) => data[HeaderLength..];

    public static ReadOnlySequence<byte> Body(in ReadOnlySequence<byte> data) => data.Slice(HeaderLength);

    /// <summary>Frame header, timestamp and attempts, at fixed offsets (straight-line code for the broker's hot path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteHeaders(Span<byte> destination, long timestampNs, ushort attempts, int bodyLength)
    {
        FrameWriter.WriteHeader(destination, FrameType.Message, HeaderLength + bodyLength);
        BinaryPrimitives.WriteInt64BigEndian(destination[FrameHeaderLength..], timestampNs);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(FrameHeaderLength + AttemptsOffset)..], attempts);
    }

    private static void CheckLength(long length)
    {
        if (length < HeaderLength)
        {
            throw new InvalidDataException($"message frame too short ({length} < {HeaderLength})");
        }
    }
}
