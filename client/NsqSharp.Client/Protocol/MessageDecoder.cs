using System.Buffers;
using System.Buffers.Binary;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Protocol;

/// <summary>Decodes the data of a message frame: <c>[int64 timestamp ns][uint16 attempts][16-byte id][body]</c>.</summary>
internal static class MessageDecoder
{
    public static DecodedMessage Decode(in ReadOnlySequence<byte> data)
    {
        if (data.Length < ProtocolConstants.MessageHeaderLength)
        {
            throw new NsqProtocolException($"message frame too short ({data.Length} < {ProtocolConstants.MessageHeaderLength})");
        }

        Span<byte> header = stackalloc byte[ProtocolConstants.MessageHeaderLength];
        data.Slice(0, ProtocolConstants.MessageHeaderLength).CopyTo(header);
        var timestamp = BinaryPrimitives.ReadInt64BigEndian(header);
        var attempts = BinaryPrimitives.ReadUInt16BigEndian(header[8..]);
        var id = NsqMessageId.FromBytes(header.Slice(10, NsqMessageId.Length));
        // The body must outlive the pipe buffer, so it gets its own array (the one unavoidable copy).
        var body = data.Slice(ProtocolConstants.MessageHeaderLength).ToArray();
        return new DecodedMessage(id, timestamp, attempts, body);
    }
}

internal readonly record struct DecodedMessage(NsqMessageId Id, long TimestampNanoseconds, ushort Attempts, byte[] Body);
