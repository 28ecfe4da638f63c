namespace NsqSharp.Common.Protocol;

/// <summary>Topic and channel name rules of upstream (internal/protocol/names.go):
/// ^[.a-zA-Z0-9_-]+(#ephemeral)?$, length 1..64 including the suffix.</summary>
public static class NsqNames
{
    public const int MaxLength = 64;
    public const string EphemeralSuffix = "#ephemeral";

    public static bool IsValidTopicName(string? name) => IsValidName(name);

    public static bool IsValidChannelName(string? name) => IsValidName(name);

    public static bool IsEphemeral(string name) => name.EndsWith(EphemeralSuffix, StringComparison.Ordinal);

    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength)
        {
            return false;
        }

        var body = name.AsSpan();
        if (body.EndsWith(EphemeralSuffix))
        {
            body = body[..^EphemeralSuffix.Length];
        }

        if (body.IsEmpty)
        {
            return false;
        }

        foreach (var c in body)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
