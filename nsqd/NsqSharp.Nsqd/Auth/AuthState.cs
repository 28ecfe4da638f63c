using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace NsqSharp.Nsqd.Auth;

/// <summary>What an auth server granted a connection (upstream internal/auth): valid until Expires.</summary>
public sealed class AuthState
{
    [JsonPropertyName("ttl")] public int Ttl { get; set; }
    [JsonPropertyName("identity")] public string Identity { get; set; } = "";
    [JsonPropertyName("identity_url")] public string IdentityUrl { get; set; } = "";
    [JsonPropertyName("authorizations")] public List<Authorization> Authorizations { get; set; } = [];

    [JsonIgnore] public DateTimeOffset Expires { get; set; }

    [JsonIgnore] public bool IsExpired => DateTimeOffset.UtcNow >= Expires;

    /// <summary>PUB asks with channel "" (needs "publish"); SUB with the channel (needs "subscribe").</summary>
    public bool IsAllowed(string topic, string channel)
    {
        foreach (var a in Authorizations)
        {
            if (Authorization.Matches(a, topic, channel))
            {
                return true;
            }
        }

        return false;
    }
}

public sealed class Authorization
{
    private Regex? _topic;
    private Regex[]? _channels;

    [JsonPropertyName("topic")] public string Topic { get; set; } = "";
    [JsonPropertyName("channels")] public List<string> Channels { get; set; } = [];
    [JsonPropertyName("permissions")] public List<string> Permissions { get; set; } = [];

    /// <summary>Compiles the patterns; returns an error text like upstream's validation, or null.</summary>
    internal string? Compile()
    {
        foreach (var p in Permissions)
        {
            if (p is not ("subscribe" or "publish"))
            {
                return $"unknown permission {p}";
            }
        }

        try
        {
            _topic = new Regex(Topic, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
        catch (ArgumentException e)
        {
            return $"unable to compile topic \"{Topic}\" {e.Message}";
        }

        _channels = new Regex[Channels.Count];
        for (var i = 0; i < Channels.Count; i++)
        {
            try
            {
                _channels[i] = new Regex(Channels[i], RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException e)
            {
                return $"unable to compile channel \"{Channels[i]}\" {e.Message}";
            }
        }

        return null;
    }

    private bool IsAllowed(string topic, string channel)
    {
        var needed = channel.Length > 0 ? "subscribe" : "publish";
        if (!Permissions.Contains(needed) || _topic == null || _channels == null || !_topic.IsMatch(topic))
        {
            return false;
        }

        foreach (var c in _channels)
        {
            if (c.IsMatch(channel))
            {
                return true;
            }
        }

        return false;
    }

    public static bool Matches(Authorization a, string topic, string channel) => a.IsAllowed(topic, channel);
}

[JsonSerializable(typeof(AuthState))]
internal sealed partial class AuthJsonContext : JsonSerializerContext
{
}
