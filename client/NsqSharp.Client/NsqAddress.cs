using System.Globalization;
using System.Net;

namespace NsqSharp.Client;

/// <summary>A <c>host:port</c> address of an nsqd TCP listener (IPv6 as <c>[::1]:4150</c>).</summary>
internal readonly record struct NsqAddress(string Host, int Port)
{
    public static NsqAddress Parse(string address)
    {
        if (!TryParse(address, out var parsed))
        {
            throw new ArgumentException($"invalid nsqd address '{address}' (expected host:port)", nameof(address));
        }

        return parsed;
    }

    public static bool TryParse(string? address, out NsqAddress parsed)
    {
        parsed = default;
        if (string.IsNullOrWhiteSpace(address))
        {
            return false;
        }

        var text = address.Trim();
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        var host = text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':'))
        {
            return false; // bare IPv6 needs brackets
        }

        if (host.Length == 0 ||
            !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
            port is < 1 or > 65535)
        {
            return false;
        }

        parsed = new NsqAddress(host, port);
        return true;
    }

    /// <summary>Parses <c>local_addr</c>: an IP, optionally with a port.</summary>
    public static bool TryParseLocal(string text, out IPEndPoint endPoint)
    {
        if (IPAddress.TryParse(text, out var ip))
        {
            endPoint = new IPEndPoint(ip, 0);
            return true;
        }

        return IPEndPoint.TryParse(text, out endPoint!);
    }

    public override string ToString() =>
        Host.Contains(':') ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}" : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";
}
