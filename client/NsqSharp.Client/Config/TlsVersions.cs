using System.Security.Authentication;

namespace NsqSharp.Client.Config;

/// <summary>Maps go-nsq's <c>tls_min_version</c> names to the protocols .NET may negotiate.</summary>
internal static class TlsVersions
{
    // Numeric values avoid the obsolete Tls/Tls11 members; the OS still decides whether they are allowed.
    private const SslProtocols Tls10 = (SslProtocols)0x00C0;
    private const SslProtocols Tls11 = (SslProtocols)0x0300;

    public static bool IsKnown(string name) => Parse(name) != null;

    /// <summary>All protocols at or above the named minimum; null for an unknown name.</summary>
    public static SslProtocols? Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "ssl3.0" or "tls1.0" => Tls10 | Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
        "tls1.1" => Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
        "tls1.2" => SslProtocols.Tls12 | SslProtocols.Tls13,
        "tls1.3" => SslProtocols.Tls13,
        _ => null,
    };
}
