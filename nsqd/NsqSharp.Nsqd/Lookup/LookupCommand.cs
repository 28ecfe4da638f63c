using System.Text;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>A V1 command line for nsqlookupd: "REGISTER topic [channel]\n", "UNREGISTER …", "PING\n".</summary>
internal readonly record struct LookupCommand(string Verb, string? Topic, string? Channel)
{
    public static LookupCommand Ping { get; } = new("PING", null, null);

    public static LookupCommand Register(string topic, string? channel) => new("REGISTER", topic, channel);

    public static LookupCommand Unregister(string topic, string? channel) => new("UNREGISTER", topic, channel);

    public byte[] ToBytes()
    {
        var sb = new StringBuilder(Verb.Length + 2 + (Topic?.Length ?? 0) + (Channel?.Length ?? 0));
        sb.Append(Verb);
        if (Topic != null)
        {
            sb.Append(' ').Append(Topic);
            if (!string.IsNullOrEmpty(Channel))
            {
                sb.Append(' ').Append(Channel);
            }
        }

        sb.Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public override string ToString() => Encoding.UTF8.GetString(ToBytes()).TrimEnd('\n');
}
