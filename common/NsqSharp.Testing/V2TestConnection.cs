using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Testing;

/// <summary>A frame received from nsqd by a test.</summary>
public readonly record struct TestFrame(FrameType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);

    public long Timestamp => BinaryPrimitives.ReadInt64BigEndian(Data);

    public ushort Attempts => BinaryPrimitives.ReadUInt16BigEndian(Data.AsSpan(8));

    public string Id => Encoding.ASCII.GetString(Data, 10, 16);

    public byte[] Body => Data[26..];
}

/// <summary>
/// A deliberately plain TCP V2 client for tests: raw commands in, frames out, every read bounded
/// by a timeout. Tests speak the protocol through it rather than through our client library so
/// they hold for any NSQ-compatible server.
/// </summary>
public sealed class V2TestConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private V2TestConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public static async Task<V2TestConnection> ConnectAsync(int port, bool sendMagic = true)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token).ConfigureAwait(false);
        var connection = new V2TestConnection(tcp);
        if (sendMagic)
        {
            await connection.SendRawAsync(ProtocolConstants.MagicV2.ToArray()).ConfigureAwait(false);
        }

        return connection;
    }

    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    public Task SendAsync(string line) => SendRawAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public Task SendAsync(string line, byte[] body)
    {
        var head = Encoding.UTF8.GetBytes(line + "\n");
        var buffer = new byte[head.Length + 4 + body.Length];
        head.CopyTo(buffer, 0);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(head.Length), body.Length);
        body.CopyTo(buffer, head.Length + 4);
        return SendRawAsync(buffer);
    }

    public Task IdentifyAsync(string json) => SendAsync("IDENTIFY", Encoding.UTF8.GetBytes(json));

    public Task PublishAsync(string topic, byte[] body) => SendAsync("PUB " + topic, body);

    public Task MultiPublishAsync(string topic, IReadOnlyList<byte[]> bodies)
    {
        var size = 4;
        foreach (var b in bodies)
        {
            size += 4 + b.Length;
        }

        var payload = new byte[size];
        BinaryPrimitives.WriteInt32BigEndian(payload, bodies.Count);
        var pos = 4;
        foreach (var b in bodies)
        {
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(pos), b.Length);
            b.CopyTo(payload, pos + 4);
            pos += 4 + b.Length;
        }

        return SendAsync("MPUB " + topic, payload);
    }

    /// <summary>Reads one frame; throws TimeoutException after ReadTimeout, EndOfStreamException on close.</summary>
    public async Task<TestFrame> ReadFrameAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var header = new byte[8];
        try
        {
            await _stream.ReadExactlyAsync(header, timeout.Token).ConfigureAwait(false);
            var size = BinaryPrimitives.ReadInt32BigEndian(header);
            var type = (FrameType)BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
            if (size < 4 || size > 64 * 1024 * 1024)
            {
                throw new InvalidDataException($"bad frame size {size}");
            }

            var data = new byte[size - 4];
            await _stream.ReadExactlyAsync(data, timeout.Token).ConfigureAwait(false);
            return new TestFrame(type, data);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame within {ReadTimeout}");
        }
    }

    /// <summary>
    /// Reads frames until one that is not a heartbeat (answering heartbeats with NOP). The whole wait
    /// is bounded by ReadTimeout, so a quiet connection times out even while heartbeats arrive.
    /// </summary>
    public async Task<TestFrame> ReadNonHeartbeatAsync()
    {
        var deadline = DateTime.UtcNow + ReadTimeout;
        while (true)
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"only heartbeats within {ReadTimeout}");
            }

            var frame = await ReadFrameAsync().ConfigureAwait(false);
            if (frame.Type == FrameType.Response && frame.Text == "_heartbeat_")
            {
                await SendAsync("NOP").ConfigureAwait(false);
                continue;
            }

            return frame;
        }
    }

    /// <summary>True when the server closed the connection within the timeout.</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await _stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
