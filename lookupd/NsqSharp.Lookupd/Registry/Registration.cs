namespace NsqSharp.Lookupd.Registry;

/// <summary>
/// A registry key as upstream names it: category "client" (one per identified nsqd),
/// "topic" (Key = topic) or "channel" (Key = topic, SubKey = channel).
/// </summary>
public readonly record struct Registration(string Category, string Key, string SubKey)
{
    public const string ClientCategory = "client";
    public const string TopicCategory = "topic";
    public const string ChannelCategory = "channel";

    public static Registration Client { get; } = new(ClientCategory, "", "");

    public static Registration Topic(string topic) => new(TopicCategory, topic, "");

    public static Registration Channel(string topic, string channel) => new(ChannelCategory, topic, channel);

    /// <summary>"category:key:subkey", the /debug map key.</summary>
    public override string ToString() => Category + ":" + Key + ":" + SubKey;
}
