using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NsqSharp.Common.Compression;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Tests.Fakes;

/// <summary>The server side of one client connection of <see cref="FakeNsqd"/>.</summary>
public sealed class FakeClient : IDisposable
{
    private readonly Socket _socket;
    private readonly FakeServerOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _buffer = new byte[64 * 1024];
    private Stream _stream;
    private int _start;
    private int _end;

    public FakeClient(Socket socket, FakeServerOptions options)
    {
        _socket = socket;
        _options = options;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The client's IDENTIFY body.</summary>
    public JsonElement Identify { get; private set; }

    public (string Topic, string Channel)? Subscription { get; set; }

    public bool Tls { get; private set; }

    public bool Snappy { get; private set; }

    public bool Deflate { get; private set; }

    public string? AuthSecret { get; private set; }

    public async Task ReadMagicAsync(CancellationToken cancellationToken)
    {
        var magic = await ReadExactAsync(4, cancellationToken);
        if (!magic.AsSpan().SequenceEqual(ProtocolConstants.MagicV2))
        {
            throw new IOException("bad magic");
        }
    }

    /// <summary>Answers IDENTIFY (and upgrades/AUTH) like nsqd 1.3.0 does.</summary>
    public async Task HandshakeAsync()
    {
        var identify = await ExpectAsync("IDENTIFY");
        using (var document = JsonDocument.Parse(identify.Body!))
        {
            Identify = document.RootElement.Clone();
        }

        if (_options.LegacyIdentify)
        {
            await SendResponseAsync("OK");
            return;
        }

        var wantsTls = Bool("tls_v1") && _options.TlsCertificate != null;
        var wantsSnappy = Bool("snappy") && _options.SnappyAvailable;
        var wantsDeflate = Bool("deflate") && _options.DeflateAvailable;
        if (wantsSnappy && wantsDeflate)
        {
            await SendErrorAsync("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
            return;
        }

        var level = Identify.TryGetProperty("deflate_level", out var l) ? l.GetInt32() : 6;
        var response = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["max_rdy_count"] = _options.MaxRdyCount,
            ["version"] = "1.3.0",
            ["max_msg_timeout"] = 900000,
            ["msg_timeout"] = 60000,
            ["tls_v1"] = wantsTls,
            ["deflate"] = wantsDeflate,
            ["deflate_level"] = Math.Min(level, 6),
            ["max_deflate_level"] = 6,
            ["snappy"] = wantsSnappy,
            ["sample_rate"] = Identify.TryGetProperty("sample_rate", out var s) ? s.GetInt32() : 0,
            ["auth_required"] = _options.AuthRequired,
            ["output_buffer_size"] = 16384,
            ["output_buffer_timeout"] = 250,
        });
        await SendResponseAsync(response);

        if (wantsTls)
        {
            var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _options.TlsCertificate,
                ClientCertificateRequired = _options.RequireClientCertificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => !_options.RequireClientCertificate || certificate != null,
            });
            _stream = ssl;
            Tls = true;
            await SendResponseAsync("OK");
        }

        if (wantsDeflate)
        {
            _stream = DeflateStreams.CreateDuplex(_stream, Math.Min(level, 6));
            Deflate = true;
            await SendResponseAsync("OK");
        }
        else if (wantsSnappy)
        {
            _stream = new SnappyFrameStream(_stream);
            Snappy = true;
            await SendResponseAsync("OK");
        }

        if (_options.AuthRequired)
        {
            var auth = await ExpectAsync("AUTH");
            AuthSecret = auth.BodyText;
            if (AuthSecret == "bad-secret")
            {
                await SendErrorAsync("E_AUTH_FAILED AUTH failed");
                return;
            }

            await SendResponseAsync("{\"identity\":\"test-user\",\"identity_url\":\"http://example.invalid\",\"permission_count\":2}");
        }
    }

    public async Task<FakeCommand> ReadCommandAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestTimeouts.Default);
        var line = await ReadLineAsync(cts.Token);
        var parts = CommandReader.Params(line);
        var name = parts[0];
        byte[]? body = null;
        if (CommandReader.HasBody(CommandReader.Name(line)))
        {
            var size = BinaryPrimitives.ReadInt32BigEndian(await ReadExactAsync(4, cts.Token));
            body = await ReadExactAsync(size, cts.Token);
        }

        return new FakeCommand(name, parts[1..], body);
    }

    /// <summary>Reads until a command named <paramref name="name"/> (skipping NOPs); any other command fails.</summary>
    public async Task<FakeCommand> ExpectAsync(string name, TimeSpan? timeout = null)
    {
        while (true)
        {
            var command = await ReadCommandAsync(timeout);
            if (command.Name == "NOP" && name != "NOP")
            {
                continue;
            }

            if (command.Name != name)
            {
                throw new InvalidOperationException($"expected {name}, got {command}");
            }

            return command;
        }
    }

    /// <summary>Reads commands (skipping NOP) until one named <paramref name="name"/> arrives, ignoring others.</summary>
    public async Task<FakeCommand> SkipUntilAsync(string name, TimeSpan? timeout = null)
    {
        while (true)
        {
            var command = await ReadCommandAsync(timeout);
            if (command.Name == name)
            {
                return command;
            }
        }
    }

    public Task SendResponseAsync(string text) => SendRawAsync(FrameWriter.ToArray(FrameType.Response, Encoding.UTF8.GetBytes(text)));

    public Task SendErrorAsync(string text) => SendRawAsync(FrameWriter.ToArray(FrameType.Error, Encoding.UTF8.GetBytes(text)));

    /// <summary>A message frame; a short <paramref name="id"/> is padded with '0' to 16 bytes.</summary>
    public Task SendMessageAsync(string id, ushort attempts, string body, long timestampNs = 1_700_000_000_000_000_000)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var frame = new byte[MessageFrame.FrameLength(bytes.Length)];
        MessageFrame.Write(frame, timestampNs, attempts, Encoding.ASCII.GetBytes(id.PadRight(16, '0')[..16]), bytes);
        return SendRawAsync(frame);
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes);
            await _stream.FlushAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>True once the client has closed its side (a read returns end of stream).</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestTimeouts.Default);
        try
        {
            while (true)
            {
                if (_start == _end && !await FillAsync(cts.Token))
                {
                    return true;
                }

                _start = _end; // discard whatever else the client sends
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

    public void Dispose()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        try
        {
            _stream.Dispose(); // a deflate stream flushes its tail here, into a closed socket
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
    }

    private bool Bool(string name) => Identify.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private async Task<byte[]> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>();
        while (true)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new EndOfStreamException("client closed");
            }

            var b = _buffer[_start++];
            if (b == (byte)'\n')
            {
                return CommandReader.TrimCarriageReturn(line.ToArray()).ToArray();
            }

            line.Add(b);
        }
    }

    private async Task<byte[]> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new EndOfStreamException("client closed");
            }

            var n = Math.Min(count - filled, _end - _start);
            Array.Copy(_buffer, _start, result, filled, n);
            _start += n;
            filled += n;
        }

        return result;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        _start = 0;
        _end = await _stream.ReadAsync(_buffer, cancellationToken);
        return _end > 0;
    }
}
