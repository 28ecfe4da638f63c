using System.Text;

namespace NsqSharp.Client.Tests.Fakes;

/// <summary>A command as the fake nsqd parsed it off the wire.</summary>
public sealed record FakeCommand(string Name, string[] Args, byte[]? Body)
{
    public string BodyText => Body == null ? "" : Encoding.UTF8.GetString(Body);

    public override string ToString() => Args.Length == 0 ? Name : Name + " " + string.Join(' ', Args);
}
