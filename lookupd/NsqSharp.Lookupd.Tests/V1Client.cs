using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace NsqSharp.Lookupd.Tests;

/// <summary>A raw V1 connection for protocol tests: sends exact bytes, reads [size][data] frames.</summary>
internal sealed class V1Client : IAsyncDisposable
{
    private static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private V1Client(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<V1Client> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        return new V1Client(tcp);
    }

    public static string IdentifyJson(string broadcast, int tcpPort, int httpPort, string version = "1.3.0") =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["broadcast_address"] = broadcast,
            ["tcp_port"] = tcpPort,
            ["http_port"] = httpPort,
            ["version"] = version,
            ["hostname"] = "node-" + tcpPort,
        });

    public Task SendMagicAsync() => SendAsync("  V1"u8.ToArray());

    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(IoTimeout);
        await _stream.WriteAsync(bytes, cts.Token);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Sends a line and returns the response frame's text.</summary>
    public async Task<string> CommandAsync(string line)
    {
        await SendAsync(line + "\n");
        return await ReadResponseAsync();
    }

    public async Task<string> IdentifyAsync(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var frame = new byte[9 + 4 + body.Length];
        "IDENTIFY\n"u8.CopyTo(frame);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(9), body.Length);
        body.CopyTo(frame, 13);
        await SendAsync(frame);
        return await ReadResponseAsync();
    }

    public async Task<string> ReadResponseAsync()
    {
        using var cts = new CancellationTokenSource(IoTimeout);
        var header = new byte[4];
        await _stream.ReadExactlyAsync(header, cts.Token);
        var size = BinaryPrimitives.ReadInt32BigEndian(header);
        var data = new byte[size];
        await _stream.ReadExactlyAsync(data, cts.Token);
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>True if the server closes the connection (EOF or reset) within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(IoTimeout);
        var buffer = new byte[64];
        try
        {
            while (true)
            {
                var n = await _stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
