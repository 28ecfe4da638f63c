using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

/// <summary>Byte-exact sessions as upstream nsqd v1.3.0 runs them, and listening on unix sockets.</summary>
public sealed class CompatibilityTests
{
    private const int T = 30_000;

    [Fact(Timeout = T)]
    public async Task UpstreamNsqdSessionBytesAreAccepted()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();

        // nsqd/lookup.go connectCallback: magic, IDENTIFY with go-nsq's framing and Go's sorted map keys,
        // then REGISTER per topic/channel; later PING every 15 s and UNREGISTER on deletes.
        var identify = """{"broadcast_address":"nsqd-1","hostname":"nsqd-1.example","http_port":4151,"tcp_port":4150,"topology_region":"","topology_zone":"","version":"1.3.0"}"""u8.ToArray();
        var session = new List<byte>();
        session.AddRange("  V1"u8.ToArray());
        session.AddRange("IDENTIFY\n"u8.ToArray());
        var size = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(size, identify.Length);
        session.AddRange(size);
        session.AddRange(identify);
        // Sent in one write: a pipelining peer must get one answer per command, in order.
        session.AddRange("REGISTER events\nREGISTER events archive\nPING\nUNREGISTER events archive\n"u8.ToArray());
        await client.SendAsync(session.ToArray());

        var info = await client.ReadResponseAsync();
        Assert.Contains("\"version\":\"1.3.0\"", info);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("OK", await client.ReadResponseAsync());
        }

        var producer = Assert.Single(lookupd.Db.GetActiveProducers("events"));
        Assert.Equal("nsqd-1", producer.BroadcastAddress);
        Assert.Equal("nsqd-1.example", producer.Hostname);
        Assert.Equal(["archive"], lookupd.Db.GetChannels("events"));
    }

    [Fact(Timeout = T)]
    public async Task ListensOnUnixSockets()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var dir = Directory.CreateTempSubdirectory("lookupd-uds").FullName;
        try
        {
            var tcpPath = Path.Combine(dir, "tcp.sock");
            var httpPath = Path.Combine(dir, "http.sock");
            await using var lookupd = new NsqLookupd(new LookupdOptions { TcpAddress = tcpPath, HttpAddress = httpPath, BroadcastAddress = "h" });
            await lookupd.StartAsync();

            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(tcpPath));
            await socket.SendAsync("  V1PING\n"u8.ToArray());
            var buffer = new byte[6];
            var read = 0;
            while (read < 6)
            {
                read += await socket.ReceiveAsync(buffer.AsMemory(read));
            }

            Assert.Equal("OK", Encoding.ASCII.GetString(buffer, 4, 2));

            using var http = new HttpClient(new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(httpPath), ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            });
            Assert.Equal("OK", await http.GetStringAsync("http://localhost/ping"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
