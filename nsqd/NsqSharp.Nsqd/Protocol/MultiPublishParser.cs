using System.Buffers.Binary;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// Parses an MPUB body ([int32 count]([int32 size][bytes])×count), shared by TCP MPUB and HTTP
/// /mpub?binary=true. Validates everything before anything is published (MPUB is atomic).
/// </summary>
internal static class MultiPublishParser
{
    public static ProtocolError? Parse(ReadOnlyMemory<byte> body, long maxMsgSize, long maxBodySize, out List<ReadOnlyMemory<byte>> messages)
    {
        messages = [];
        var span = body.Span;
        if (span.Length < 4)
        {
            return ProtocolError.BadBody("MPUB failed to read message count");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(span);
        var maxMessages = (maxBodySize - 4) / 5;
        if (count <= 0 || count > maxMessages)
        {
            return ProtocolError.BadBody($"MPUB invalid message count {count}");
        }

        messages = new List<ReadOnlyMemory<byte>>(Math.Min(count, 4096));
        var pos = 4;
        for (var i = 0; i < count; i++)
        {
            if (span.Length - pos < 4)
            {
                return ProtocolError.BadMessage($"MPUB failed to read message({i}) body size");
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(span[pos..]);
            pos += 4;
            if (size <= 0)
            {
                return ProtocolError.BadMessage($"MPUB invalid message({i}) body size {size}");
            }

            if (size > maxMsgSize)
            {
                return ProtocolError.BadMessage($"MPUB message too big {size} > {maxMsgSize}");
            }

            if (span.Length - pos < size)
            {
                return ProtocolError.BadMessage("MPUB failed to read message body");
            }

            messages.Add(body.Slice(pos, size));
            pos += size;
        }

        return null;
    }
}
