using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NsqSharp.Bench.Wire;

/// <summary>Resolves "host:port" (IPv4, [IPv6]:port or a host name) as bench_writer's --nsqd-tcp-address does.</summary>
internal static class NsqEndpoint
{
    public static IPEndPoint Parse(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"invalid address \"{address}\" (want host:port, e.g. 127.0.0.1:4150)");
        }

        var host = address[..colon].Trim('[', ']');
        if (IPAddress.TryParse(host, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        // Prefer IPv4 for names like "localhost" so the port lookup in /proc/net/tcp matches.
        var addresses = Dns.GetHostAddresses(host);
        var chosen = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new FormatException($"cannot resolve \"{host}\"");
        return new IPEndPoint(chosen, port);
    }
}
