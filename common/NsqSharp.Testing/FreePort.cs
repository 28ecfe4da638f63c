using System.Net;
using System.Net.Sockets;

namespace NsqSharp.Testing;

/// <summary>Hands out free TCP ports on 127.0.0.1 for processes that cannot report a bound port 0.</summary>
public static class FreePort
{
    private static readonly object Gate = new();
    private static readonly HashSet<int> Handed = [];

    public static int Next()
    {
        lock (Gate)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
