using System.Text.Json;

namespace NsqSharp.Client;

/// <summary>nsqd's answer to AUTH: who the secret identifies and how many permissions it grants.</summary>
public sealed class AuthResponse
{
    /// <summary>Identity reported by the auth server.</summary>
    public string? Identity { get; init; }

    /// <summary>URL describing the identity, if any.</summary>
    public string? IdentityUrl { get; init; }

    /// <summary>Number of authorizations granted.</summary>
    public long PermissionCount { get; init; }

    internal static AuthResponse Parse(ReadOnlySpan<byte> data)
    {
        try
        {
            using var document = JsonDocument.Parse(data.ToArray());
            var root = document.RootElement;
            return new AuthResponse
            {
                Identity = root.TryGetProperty("identity", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null,
                IdentityUrl = root.TryGetProperty("identity_url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null,
                PermissionCount = root.TryGetProperty("permission_count", out var c) && c.TryGetInt64(out var n) ? n : 0,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new NsqProtocolException("invalid AUTH response JSON", e);
        }
    }
}
