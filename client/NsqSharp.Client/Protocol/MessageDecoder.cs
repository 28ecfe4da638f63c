using System.Buffers;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Protocol;

/// <summary>Turns the data of a message frame (layout: <see cref="MessageFrame"/>) into the client's message fields.</summary>
internal static class MessageDecoder
{
    /// <exception cref="InvalidDataException">The data is shorter than a message header.</exception>
    public static DecodedMessage Decode(in ReadOnlySequence<byte> data)
    {
        Span<byte> scratch = stackalloc byte[MessageFrame.HeaderLength];
        var header = MessageFrame.Header(data, scratch);
        var id = NsqMessageId.FromBytes(MessageFrame.Id(header));
        // The body must outlive the pipe buffer, so it gets its own array (the one unavoidable copy).
        var body = MessageFrame.Body(data).ToArray();
        return new DecodedMessage(id, MessageFrame.Timestamp(header), MessageFrame.Attempts(header), body);
    }
}

internal readonly record struct DecodedMessage(NsqMessageId Id, long TimestampNanoseconds, ushort Attempts, byte[] Body);
