namespace NsqSharp.Lookupd.Tcp;

/// <summary>
/// A V1 protocol error. Upstream makes every lookupd error fatal: the text "CODE description" is sent
/// as a normal response frame and the connection is closed.
/// </summary>
internal sealed class FatalClientError(string code, string description)
{
    public string Code { get; } = code;

    public string Description { get; } = description;

    public override string ToString() => Code + " " + Description;
}
