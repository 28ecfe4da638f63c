using System.Globalization;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>Parses a --lookupd-tcp-address: "host:port" or "[v6]:port".</summary>
public static class LookupAddress
{
    public static bool TryParse(string? address, out string host, out int port)
    {
        host = "";
        port = 0;
        if (string.IsNullOrWhiteSpace(address))
        {
            return false;
        }

        var colon = address.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        var hostPart = address[..colon];
        if (hostPart.StartsWith('[') && hostPart.EndsWith(']'))
        {
            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        if (hostPart.Length == 0 ||
            !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) ||
            port is <= 0 or > 65535)
        {
            return false;
        }

        host = hostPart;
        return true;
    }

    public static bool IsValid(string? address) => TryParse(address, out _, out _);
}
