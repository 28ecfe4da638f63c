using System.Net;
using System.Net.Sockets;

namespace NsqSharp.Testing;

/// <summary>
/// Hands out free TCP ports on 127.0.0.1 for processes that must be told their ports. Ports come from
/// below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768+ by default), so no outgoing
/// connection of any process can take one between the check and the server binding it; a random start
/// keeps test processes running in parallel from picking the same ones.
/// </summary>
public static class FreePort
{
    private const int First = 20000;
    private const int Last = 32000;
    private static readonly object Gate = new();
    private static readonly HashSet<int> Handed = [];
    private static int s_next = First + Random.Shared.Next(Last - First);

    public static int Next()
    {
        lock (Gate)
        {
            for (var tries = 0; tries < Last - First; tries++)
            {
                var port = s_next;
                s_next = s_next + 1 >= Last ? First : s_next + 1;
                if (!Handed.Contains(port) && IsFree(port))
                {
                    Handed.Add(port);
                    return port;
                }
            }

            throw new InvalidOperationException($"no free port in {First}-{Last}");
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
