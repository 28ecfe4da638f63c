namespace NsqSharp.Client;

/// <summary>Base class of every error raised by NsqSharp.Client.</summary>
public class NsqException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NsqException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public NsqException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// nsqd answered a command with an error frame, e.g. <c>E_BAD_TOPIC PUB topic name "a b" is not valid</c>.
/// <see cref="Code"/> carries the code (<c>E_BAD_TOPIC</c>); <see cref="IsFatal"/> tells whether nsqd closes
/// the connection after it (every error except <c>E_FIN_FAILED</c>, <c>E_REQ_FAILED</c>, <c>E_TOUCH_FAILED</c> and the
/// cluster-mode publish errors below).
/// </summary>
public class NsqServerException : NsqException
{
    /// <summary>Creates the exception from the raw error frame text.</summary>
    public NsqServerException(string errorText, string? address = null)
        : base(address == null ? errorText : $"{errorText} (nsqd {address})")
    {
        ErrorText = errorText;
        var space = errorText.IndexOf(' ', StringComparison.Ordinal);
        Code = space < 0 ? errorText : errorText[..space];
        Description = space < 0 ? "" : errorText[(space + 1)..];
        Address = address;
    }

    /// <summary>The error code, e.g. <c>E_BAD_TOPIC</c>, <c>E_PUB_FAILED</c>, <c>E_UNAUTHORIZED</c>.</summary>
    public string Code { get; }

    /// <summary>The text after the code.</summary>
    public string Description { get; }

    /// <summary>The whole error frame text as nsqd sent it.</summary>
    public string ErrorText { get; }

    /// <summary>The nsqd address that answered, when known.</summary>
    public string? Address { get; }

    /// <summary>True when nsqd closes the connection after this error.</summary>
    public bool IsFatal => !IsNonFatalCode(Code);

    /// <remarks>NsqSharp's cluster mode adds E_NOT_LEADER, E_NOT_ENOUGH_REPLICAS and E_CLUSTER_UNAVAILABLE for a
    /// publish: nsqd keeps the connection open after them, so the publish can be retried on it.</remarks>
    internal static bool IsNonFatalCode(string code) =>
        code is "E_FIN_FAILED" or "E_REQ_FAILED" or "E_TOUCH_FAILED" or "E_NOT_LEADER" or "E_NOT_ENOUGH_REPLICAS" or "E_CLUSTER_UNAVAILABLE";
}

/// <summary>The connection to nsqd failed, was closed, or timed out. A publish that fails with this may or
/// may not have reached nsqd (its response was lost); retry if duplicates are acceptable.</summary>
public class NsqConnectionException : NsqException
{
    /// <summary>Creates the exception.</summary>
    public NsqConnectionException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>The server broke the wire protocol (bad frame size or type, malformed message or JSON).</summary>
public class NsqProtocolException : NsqException
{
    /// <summary>Creates the exception.</summary>
    public NsqProtocolException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>Connection setup (IDENTIFY, TLS, compression, AUTH, SUB) failed for a reason other than a
/// server error frame, e.g. TLS requested but not offered, or auth required without <c>auth_secret</c>.</summary>
public class NsqNegotiationException : NsqException
{
    /// <summary>Creates the exception.</summary>
    public NsqNegotiationException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
