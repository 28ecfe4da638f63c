namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// An error answered to a V2 client as an error frame "CODE description". Fatal errors close the
/// connection after the frame is sent; only E_FIN_FAILED, E_REQ_FAILED and E_TOUCH_FAILED are not.
/// </summary>
public sealed class ProtocolError : Exception
{
    public ProtocolError(string code, string description, bool fatal = true)
        : base(description)
    {
        Code = code;
        Fatal = fatal;
    }

    public string Code { get; }

    public bool Fatal { get; }

    /// <summary>The error frame body exactly as upstream sends it.</summary>
    public string FrameText => Code + " " + Message;

    public static ProtocolError Invalid(string description) => new("E_INVALID", description);

    public static ProtocolError BadBody(string description) => new("E_BAD_BODY", description);

    public static ProtocolError BadTopic(string description) => new("E_BAD_TOPIC", description);

    public static ProtocolError BadChannel(string description) => new("E_BAD_CHANNEL", description);

    public static ProtocolError BadMessage(string description) => new("E_BAD_MESSAGE", description);
}
