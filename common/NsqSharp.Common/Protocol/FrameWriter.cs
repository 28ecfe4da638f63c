using System.Buffers;
using System.Buffers.Binary;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// Writes server frames <c>[int32 size][int32 type][data]</c> (size = 4 + data length) into memory the caller
/// owns, so a server's output buffer takes whole frames without a copy or an allocation.
/// </summary>
public static class FrameWriter
{
    private const int HeaderLength = ProtocolConstants.FrameHeaderLength;

    /// <summary>Bytes a frame with <paramref name="dataLength"/> bytes of data takes on the wire.</summary>
    public static int Length(int dataLength) => HeaderLength + dataLength;

    /// <summary>Writes the 8-byte header; the caller writes the data after it.</summary>
    public static void WriteHeader(Span<byte> destination, FrameType type, int dataLength)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, dataLength + 4);
        BinaryPrimitives.WriteInt32BigEndian(destination[4..], (int)type);
    }

    /// <summary>Writes a whole frame; returns its length.</summary>
    public static int Write(Span<byte> destination, FrameType type, ReadOnlySpan<byte> data)
    {
        WriteHeader(destination, type, data.Length);
        data.CopyTo(destination[HeaderLength..]);
        return HeaderLength + data.Length;
    }

    public static void Write(IBufferWriter<byte> writer, FrameType type, ReadOnlySpan<byte> data) =>
        writer.Advance(Write(writer.GetSpan(Length(data.Length)), type, data));

    /// <summary>A frame in an array of its own, for frames built once or off the hot path (refusals, fakes).</summary>
    public static byte[] ToArray(FrameType type, ReadOnlySpan<byte> data)
    {
        var frame = new byte[Length(data.Length)];
        Write(frame, type, data);
        return frame;
    }
}
