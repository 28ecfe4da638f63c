using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// Parses an MPUB body for TCP MPUB and HTTP /mpub?binary=true, answering a bad one with upstream's error
/// code and text. The layout itself is <see cref="MultiPublishBody"/>'s.
/// </summary>
internal static class MultiPublishParser
{
    public static ProtocolError? Parse(ReadOnlyMemory<byte> body, long maxMsgSize, long maxBodySize, out List<ReadOnlyMemory<byte>> messages) =>
        MultiPublishBody.TryParse(body, maxMsgSize, maxBodySize, out messages, out var error) ? null : ToProtocolError(error, maxMsgSize);

    private static ProtocolError ToProtocolError(MultiPublishError error, long maxMsgSize) => error.Fault switch
    {
        MultiPublishFault.MissingCount => ProtocolError.BadBody("MPUB failed to read message count"),
        MultiPublishFault.InvalidCount => ProtocolError.BadBody($"MPUB invalid message count {error.Value}"),
        MultiPublishFault.MissingSize => ProtocolError.BadMessage($"MPUB failed to read message({error.Index}) body size"),
        MultiPublishFault.InvalidSize => ProtocolError.BadMessage($"MPUB invalid message({error.Index}) body size {error.Value}"),
        MultiPublishFault.TooBig => ProtocolError.BadMessage($"MPUB message too big {error.Value} > {maxMsgSize}"),
        _ => ProtocolError.BadMessage("MPUB failed to read message body"),
    };
}
