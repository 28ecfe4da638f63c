using System.Buffers;
using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using NsqSharp.Common.Compression;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Support;

/// <summary>A frame from nsqd: [size][type][data].</summary>
public readonly record struct Frame(FrameType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);

    public override string ToString() => Type == FrameType.Message ? $"Message({Data.Length} bytes)" : $"{Type}({Text})";
}

/// <summary>A decoded message frame: [int64 timestamp ns][uint16 attempts][16-byte hex id][body].</summary>
public sealed record NsqMessage(long TimestampNs, ushort Attempts, string Id, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public static NsqMessage Decode(byte[] data)
    {
        Assert.True(data.Length >= MessageFrame.HeaderLength, $"message frame too short ({data.Length} bytes)");
        var header = MessageFrame.Header(data);
        return new NsqMessage(MessageFrame.Timestamp(header), MessageFrame.Attempts(header), Encoding.ASCII.GetString(MessageFrame.Id(header)),
            MessageFrame.Body(data).ToArray());
    }
}

/// <summary>
/// A raw TCP V2 socket for conformance tests: commands go out as bytes exactly as written (malformed ones
/// too, so commands are not built with CommandWriter), frames come back through the shared FrameReader
/// with a timeout on every read. A read that times out is kept pending (never cancelled)
/// and handed to the next read, so "nothing arrives within X" checks do not corrupt the stream.
/// Can upgrade to TLS, snappy and deflate like a client after IDENTIFY negotiation.
/// </summary>
public sealed class RawConnection : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Largest frame data accepted: above any --max-msg-size a test sets, below a corrupt size's gigabytes.</summary>
    private const int MaxFrameData = 64 * 1024 * 1024;

    private readonly TcpClient _tcp;
    private Stream _transport;
    private Stream _stream;
    private Task<Frame>? _pending;

    private RawConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _transport = tcp.GetStream();
        _stream = _transport;
    }

    /// <summary>Our end of the socket as nsqd sees it (IPv4).</summary>
    public System.Net.IPEndPoint LocalEndPoint
    {
        get
        {
            var ep = (System.Net.IPEndPoint)_tcp.Client.LocalEndPoint!;
            return new System.Net.IPEndPoint(ep.Address.MapToIPv4(), ep.Port);
        }
    }

    public static async Task<RawConnection> ConnectAsync(int port, bool sendMagic = true)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await tcp.ConnectAsync("127.0.0.1", port, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        var conn = new RawConnection(tcp);
        if (sendMagic)
        {
            await conn.WriteAsync(ProtocolConstants.MagicV2.ToArray()).ConfigureAwait(false);
        }

        return conn;
    }

    // ---- writing ----

    public async Task WriteAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await _stream.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
        await _stream.FlushAsync(timeout.Token).ConfigureAwait(false);
    }

    public Task SendAsync(string line) => WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));

    public Task SendAsync(string line, byte[] body) => WriteAsync(Command(line, body));

    /// <summary>Half-closes the socket (no more bytes from us): a truncated command stays truncated.</summary>
    public void ShutdownSend() => _tcp.Client.Shutdown(SocketShutdown.Send);

    /// <summary>"LINE\n[int32 size][body]".</summary>
    public static byte[] Command(string line, byte[] body)
    {
        var head = Encoding.UTF8.GetBytes(line + "\n");
        var buffer = new byte[head.Length + 4 + body.Length];
        head.CopyTo(buffer, 0);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(head.Length), body.Length);
        body.CopyTo(buffer, head.Length + 4);
        return buffer;
    }

    /// <summary>An MPUB body: [int32 count]([int32 size][bytes])×count.</summary>
    public static byte[] MultiBody(IReadOnlyList<byte[]> messages)
    {
        var body = new ArrayBufferWriter<byte>();
        MultiPublishBody.Write(body, messages.Select(m => (ReadOnlyMemory<byte>)m).ToArray());
        return body.WrittenSpan.ToArray();
    }

    public static byte[] Int32(int value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        return b;
    }

    public Task PublishAsync(string topic, string body) => SendAsync("PUB " + topic, Encoding.UTF8.GetBytes(body));

    public Task MultiPublishAsync(string topic, IReadOnlyList<byte[]> messages) => SendAsync("MPUB " + topic, MultiBody(messages));

    /// <summary>Sends IDENTIFY with feature_negotiation plus the given fields; returns the first reply frame.</summary>
    public async Task<Frame> IdentifyAsync(IReadOnlyDictionary<string, object?>? fields = null, bool featureNegotiation = true)
    {
        var data = new Dictionary<string, object?> { ["feature_negotiation"] = featureNegotiation };
        if (fields != null)
        {
            foreach (var (k, v) in fields)
            {
                data[k] = v;
            }
        }

        await SendAsync("IDENTIFY", JsonSerializer.SerializeToUtf8Bytes(data)).ConfigureAwait(false);
        return await ReadNonHeartbeatAsync().ConfigureAwait(false);
    }

    /// <summary>IDENTIFY with feature negotiation; asserts a JSON response and returns it.</summary>
    public async Task<JsonElement> NegotiateAsync(IReadOnlyDictionary<string, object?>? fields = null)
    {
        var frame = await IdentifyAsync(fields).ConfigureAwait(false);
        Assert.True(frame.Type == FrameType.Response, $"expected the negotiation JSON, got {frame}");
        return JsonDocument.Parse(frame.Data).RootElement.Clone();
    }

    // ---- reading ----

    /// <summary>Reads one frame; TimeoutException after the timeout, EndOfStreamException when the server closed.</summary>
    public async Task<Frame> ReadFrameAsync(TimeSpan? timeout = null)
    {
        var read = _pending ??= ReadOneAsync(_stream);
        var limit = timeout ?? DefaultTimeout;
        if (await Task.WhenAny(read, Task.Delay(limit)).ConfigureAwait(false) != read)
        {
            throw new TimeoutException($"no frame within {limit}");
        }

        _pending = null;
        return await read.ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the next frame that is not a heartbeat (heartbeats are skipped, not answered). Expect*
    /// helpers use it so that tests on an nsqd with short heartbeats are not thrown by one arriving first.
    /// </summary>
    public async Task<Frame> ReadNonHeartbeatAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var frame = await ReadFrameAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            if (frame.Type != FrameType.Response || frame.Text != "_heartbeat_")
            {
                return frame;
            }
        }
    }

    /// <summary>Reads frames, answering heartbeats with NOP, until one that is not a heartbeat.</summary>
    public async Task<Frame> ReadSkippingHeartbeatsAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var frame = await ReadFrameAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            if (frame.Type == FrameType.Response && frame.Text == "_heartbeat_")
            {
                await SendAsync("NOP").ConfigureAwait(false);
                continue;
            }

            return frame;
        }
    }

    public async Task ExpectResponseAsync(string text, TimeSpan? timeout = null)
    {
        var frame = text == "_heartbeat_" ? await ReadFrameAsync(timeout).ConfigureAwait(false) : await ReadNonHeartbeatAsync(timeout).ConfigureAwait(false);
        Assert.Equal(FrameType.Response, frame.Type);
        Assert.Equal(text, frame.Text);
    }

    public async Task ExpectErrorAsync(string text, TimeSpan? timeout = null)
    {
        var frame = await ReadNonHeartbeatAsync(timeout).ConfigureAwait(false);
        Assert.True(frame.Type == FrameType.Error, $"expected error frame \"{text}\", got {frame}");
        Assert.Equal(text, frame.Text);
    }

    /// <summary>A fatal error: the error frame, then the server closes the connection.</summary>
    public async Task ExpectFatalAsync(string text)
    {
        await ExpectErrorAsync(text).ConfigureAwait(false);
        await ExpectClosedAsync().ConfigureAwait(false);
    }

    /// <summary>A non-fatal error: the error frame, and the connection stays usable.</summary>
    public async Task ExpectNonFatalAsync(string text)
    {
        await ExpectErrorAsync(text).ConfigureAwait(false);
        await ExpectNothingAsync(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
    }

    public async Task<NsqMessage> ExpectMessageAsync(TimeSpan? timeout = null)
    {
        var frame = await ReadNonHeartbeatAsync(timeout).ConfigureAwait(false);
        Assert.True(frame.Type == FrameType.Message, $"expected a message, got {frame}");
        return NsqMessage.Decode(frame.Data);
    }

    /// <summary>
    /// After a PUB on a connection that is itself subscribed with RDY: the OK and the delivered
    /// message may arrive in either order. Returns the message.
    /// </summary>
    public async Task<NsqMessage> ExpectResponseAndMessageAsync(string response = "OK")
    {
        NsqMessage? message = null;
        var sawResponse = false;
        while (message == null || !sawResponse)
        {
            var frame = await ReadNonHeartbeatAsync().ConfigureAwait(false);
            if (frame.Type == FrameType.Message && message == null)
            {
                message = NsqMessage.Decode(frame.Data);
                continue;
            }

            Assert.True(frame.Type == FrameType.Response && !sawResponse, $"expected {response} and one message, got {frame}");
            Assert.Equal(response, frame.Text);
            sawResponse = true;
        }

        return message;
    }

    /// <summary>Asserts that no frame arrives and the connection stays open for the given time.</summary>
    public async Task ExpectNothingAsync(TimeSpan during)
    {
        Frame frame;
        try
        {
            frame = await ReadFrameAsync(during).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            Assert.Fail($"connection was closed by the server ({e.Message}) while expecting it to stay open");
            return;
        }

        Assert.Fail($"expected no frame within {during}, got {frame}");
    }

    /// <summary>Asserts the server closes the connection (after any frames it still sends) within the timeout.</summary>
    public async Task ExpectClosedAsync(TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            Frame frame;
            try
            {
                frame = await ReadFrameAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is EndOfStreamException or IOException or System.Security.Authentication.AuthenticationException or InvalidDataException)
            {
                return;
            }
            catch (TimeoutException)
            {
                Assert.Fail("the server did not close the connection");
                return;
            }

            if (frame.Type == FrameType.Message || frame.Text != "_heartbeat_")
            {
                Assert.Fail($"expected the connection to be closed, got {frame}");
            }
        }
    }

    private static async Task<Frame> ReadOneAsync(Stream stream)
    {
        var (type, data) = await FrameReader.ReadAsync(stream, MaxFrameData, CancellationToken.None).ConfigureAwait(false);
        return new Frame(type, data);
    }

    // ---- upgrades (after the negotiation JSON, before anything else) ----

    public async Task UpgradeTlsAsync(X509Certificate2? clientCertificate = null)
    {
        Assert.Null(_pending);
        var ssl = new SslStream(_transport, leaveInnerStreamOpen: true);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
        };
        if (clientCertificate != null)
        {
            options.ClientCertificates = [clientCertificate];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await ssl.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _transport = ssl;
        _stream = ssl;
    }

    public SslStream? Tls => _transport as SslStream;

    public void UpgradeSnappy()
    {
        Assert.Null(_pending);
        _stream = new SnappyFrameStream(_transport, leaveOpen: true);
    }

    public void UpgradeDeflate(int level = DeflateStreams.DefaultLevel)
    {
        Assert.Null(_pending);
        _stream = DeflateStreams.CreateDuplex(_transport, level, leaveOpen: true);
    }

    public ValueTask DisposeAsync()
    {
        _pending?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
