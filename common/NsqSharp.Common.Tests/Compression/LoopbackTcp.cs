using System.Net;
using System.Net.Sockets;

namespace NsqSharp.Common.Tests.Compression;

/// <summary>A connected pair of real TCP sockets on 127.0.0.1 (OS-chosen port).</summary>
internal sealed class LoopbackTcp : IDisposable
{
    private LoopbackTcp(NetworkStream client, NetworkStream server)
    {
        Client = client;
        Server = server;
    }

    public NetworkStream Client { get; }

    public NetworkStream Server { get; }

    public static async Task<LoopbackTcp> ConnectAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accept = listener.AcceptSocketAsync();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        Socket server = await accept;
        server.NoDelay = true;
        return new LoopbackTcp(new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true));
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
