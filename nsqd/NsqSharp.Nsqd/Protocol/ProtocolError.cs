using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// An error answered to a V2 client as an error frame "CODE description". Fatal errors close the
/// connection after the frame is sent; only E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED are not.
/// A description that echoes what the client sent (a command name, a count, a message id) keeps the
/// client's bytes as they were, invalid UTF-8 included, as upstream's fmt.Sprintf("%s", []byte) does.
/// </summary>
public sealed class ProtocolError : Exception
{
    private readonly byte[]? _rawDescription;

    public ProtocolError(string code, string description, bool fatal = true)
        : base(description)
    {
        Code = code;
        Fatal = fatal;
    }

    /// <summary>An error whose description is bytes (see <see cref="Text"/>); Message shows them as UTF-8.</summary>
    public ProtocolError(string code, byte[] description, bool fatal = true)
        : base(ProtocolConstants.Utf8.GetString(description))
    {
        Code = code;
        Fatal = fatal;
        _rawDescription = description;
    }

    public string Code { get; }

    public bool Fatal { get; }

    /// <summary>The error frame body as text, for logs (invalid UTF-8 the client sent shows as U+FFFD).</summary>
    public string FrameText => Code + " " + Message;

    /// <summary>The error frame body exactly as upstream sends it.</summary>
    public byte[] FrameBytes()
    {
        var description = _rawDescription ?? ProtocolConstants.Utf8.GetBytes(Message);
        var frame = new byte[Code.Length + 1 + description.Length];
        var written = ProtocolConstants.Utf8.GetBytes(Code, frame);
        frame[written] = (byte)' ';
        description.CopyTo(frame, written + 1);
        return frame;
    }

    /// <summary>UTF-8 text around bytes the client sent, kept as they are.</summary>
    public static byte[] Text(string before, ReadOnlySpan<byte> echoed, string after = "")
    {
        var head = ProtocolConstants.Utf8.GetBytes(before);
        var tail = ProtocolConstants.Utf8.GetBytes(after);
        var text = new byte[head.Length + echoed.Length + tail.Length];
        head.CopyTo(text, 0);
        echoed.CopyTo(text.AsSpan(head.Length));
        tail.CopyTo(text, head.Length + echoed.Length);
        return text;
    }

    public static ProtocolError Invalid(string description) => new("E_INVALID", description);

    public static ProtocolError Invalid(byte[] description) => new("E_INVALID", description);

    public static ProtocolError BadBody(string description) => new("E_BAD_BODY", description);

    public static ProtocolError BadTopic(byte[] description) => new("E_BAD_TOPIC", description);

    public static ProtocolError BadChannel(byte[] description) => new("E_BAD_CHANNEL", description);

    public static ProtocolError BadMessage(string description) => new("E_BAD_MESSAGE", description);
}
