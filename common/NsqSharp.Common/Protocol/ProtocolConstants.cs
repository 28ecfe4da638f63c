using System.Text;

namespace NsqSharp.Common.Protocol;

/// <summary>Fixed strings and sizes of the NSQ wire protocols.</summary>
public static class ProtocolConstants
{
    /// <summary>Magic a V2 client (consumer/producer) sends first to nsqd.</summary>
    public static ReadOnlySpan<byte> MagicV2 => "  V2"u8;

    /// <summary>Magic an nsqd sends first to nsqlookupd.</summary>
    public static ReadOnlySpan<byte> MagicV1 => "  V1"u8;

    /// <summary>Magic a follower replica sends first to its leader's TCP port (cluster mode, docs/PROTOCOL.md "Replication").</summary>
    public static ReadOnlySpan<byte> MagicReplica => "  R1"u8;

    /// <summary>Version reported on the wire (/info, IDENTIFY). Clients compare it as semver against upstream.</summary>
    public const string CompatibleVersion = "1.3.0";

    /// <summary>The product's own version, used in user agents and logs.</summary>
    public const string ProductVersion = "0.1.0";

    public static ReadOnlySpan<byte> Heartbeat => "_heartbeat_"u8;
    public static ReadOnlySpan<byte> Ok => "OK"u8;
    public static ReadOnlySpan<byte> CloseWait => "CLOSE_WAIT"u8;

    /// <summary>Frame header: int32 size (4 + data length) + int32 type.</summary>
    public const int FrameHeaderLength = 4 + 4;

    /// <summary>Message frame header: int64 timestamp (ns) + uint16 attempts + 16-byte id.</summary>
    public const int MessageHeaderLength = 8 + 2 + MessageId.Length;

    public static readonly Encoding Utf8 = new UTF8Encoding(false);
}
