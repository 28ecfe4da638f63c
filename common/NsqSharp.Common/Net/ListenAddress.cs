using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NsqSharp.Common.Net;

/// <summary>
/// A listen address as upstream accepts it: "host:port", ":port" (every interface), "[::1]:port",
/// or anything that is not host:port, which 1.3.0 treats as a unix socket path.
/// </summary>
public sealed record ListenAddress(EndPoint EndPoint, bool IsUnixSocket)
{
    public static ListenAddress Parse(string address)
    {
        if (!TrySplitHostPort(address, out var host, out var port))
        {
            return new ListenAddress(new UnixDomainSocketEndPoint(address), true);
        }

        if (host.Length == 0)
        {
            // Go's ":4160" listens on every interface, IPv4 and IPv6.
            var any = Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any;
            return new ListenAddress(new IPEndPoint(any, port), false);
        }

        if (IPAddress.TryParse(host, out var ip))
        {
            return new ListenAddress(new IPEndPoint(ip, port), false);
        }

        var resolved = Dns.GetHostAddresses(host);
        if (resolved.Length == 0)
        {
            throw new ArgumentException($"cannot resolve listen host '{host}'", nameof(address));
        }

        // Prefer IPv4 like Go's resolver order for "localhost".
        var chosen = resolved[0];
        foreach (var candidate in resolved)
        {
            if (candidate.AddressFamily == AddressFamily.InterNetwork)
            {
                chosen = candidate;
                break;
            }
        }

        return new ListenAddress(new IPEndPoint(chosen, port), false);
    }

    /// <summary>Go's net.SplitHostPort plus a numeric port in range.</summary>
    public static bool TrySplitHostPort(string address, out string host, out int port)
    {
        host = "";
        port = 0;
        if (string.IsNullOrEmpty(address))
        {
            return false;
        }

        var colon = address.LastIndexOf(':');
        if (colon < 0)
        {
            return false;
        }

        var hostPart = address[..colon];
        var portPart = address[(colon + 1)..];
        if (hostPart.StartsWith('['))
        {
            if (!hostPart.EndsWith(']'))
            {
                return false;
            }

            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':'))
        {
            return false; // IPv6 literal without brackets
        }

        if (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            return false;
        }

        host = hostPart;
        return true;
    }

    /// <summary>Go's RemoteAddr().String(): "1.2.3.4:5" / "[::1]:5"; IPv4-mapped addresses shown as IPv4.</summary>
    public static string Format(EndPoint? endPoint)
    {
        if (endPoint is IPEndPoint ip)
        {
            var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
            return new IPEndPoint(address, ip.Port).ToString();
        }

        return endPoint?.ToString() ?? "";
    }
}
