using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Text.Json;
using NsqSharp.Common.Compression;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>IDENTIFY negotiation (incl. TLS/snappy/deflate upgrades) and AUTH.</summary>
internal sealed partial class ClientConnection
{
    private string _authSecret = "";
    private string _tlsCommonName = "";

    private async ValueTask<ProtocolError?> IdentifyAsync(ReadOnlyMemory<byte> line)
    {
        if (State != ClientState.Init)
        {
            return ProtocolError.Invalid("cannot IDENTIFY in current state");
        }

        var size = await ReadInt32Async(ProtocolError.BadBody("IDENTIFY failed to read body size")).ConfigureAwait(false);
        if (size > _options.MaxBodySize)
        {
            return ProtocolError.BadBody($"IDENTIFY body too big {size} > {_options.MaxBodySize}");
        }

        if (size <= 0)
        {
            return ProtocolError.BadBody($"IDENTIFY invalid body size {size}");
        }

        var body = await ReadBodyAsync(size, ProtocolError.BadBody("IDENTIFY failed to read body")).ConfigureAwait(false);
        IdentifyData? data;
        try
        {
            // Go's json.Unmarshal of "null" leaves the struct as is: an IDENTIFY with every default.
            data = JsonSerializer.Deserialize(body.AsSpan(0, size), ProtocolJsonContext.Default.IdentifyData) ?? new IdentifyData();
        }
        catch (JsonException)
        {
            data = null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        if (data == null)
        {
            return ProtocolError.BadBody("IDENTIFY failed to decode JSON body");
        }

        var invalid = ApplyIdentify(data);
        if (invalid != null)
        {
            return ProtocolError.BadBody("IDENTIFY " + invalid);
        }

        if (!data.FeatureNegotiation)
        {
            await _replies.Writer.WriteAsync(Reply.Frame(FrameType.Response, ProtocolConstants.Ok.ToArray()), _closed.Token).ConfigureAwait(false);
            return null;
        }

        var tls = _server.Tls != null && data.TlsV1;
        var deflate = _options.Deflate && data.Deflate;
        var deflateLevel = (int)Math.Min(deflate && data.DeflateLevel > 0 ? data.DeflateLevel : 6, _options.MaxDeflateLevel);
        var snappy = _options.Snappy && data.Snappy;
        if (deflate && snappy)
        {
            return new ProtocolError("E_IDENTIFY_FAILED", "cannot enable both deflate and snappy compression");
        }

        var response = new IdentifyResponse
        {
            MaxRdyCount = _options.MaxRdyCount,
            Version = ProtocolConstants.CompatibleVersion,
            MaxMsgTimeout = (long)_options.MaxMsgTimeout.TotalMilliseconds,
            MsgTimeout = MsgTimeoutMs,
            TlsV1 = tls,
            Deflate = deflate,
            DeflateLevel = deflateLevel,
            MaxDeflateLevel = _options.MaxDeflateLevel,
            Snappy = snappy,
            SampleRate = SampleRate,
            AuthRequired = _server.Auth.Enabled,
            OutputBufferSize = Output.BufferSize,
            OutputBufferTimeout = Output.TimeoutMs,
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(response, ProtocolJsonContext.Default.IdentifyResponse);
        await _replies.Writer.WriteAsync(Reply.Frame(FrameType.Response, json), _closed.Token).ConfigureAwait(false);
        if (!tls && !snappy && !deflate)
        {
            return null;
        }

        // Upgrades: everything before must be on the wire, and the client must not have sent more.
        var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _replies.Writer.WriteAsync(Reply.Barrier(barrier), _closed.Token).ConfigureAwait(false);
        await barrier.Task.WaitAsync(_closed.Token).ConfigureAwait(false);
        await Output.DrainAsync().WaitAsync(_closed.Token).ConfigureAwait(false);
        if (_reader.TryRead(out var leftover))
        {
            var early = leftover.Buffer.Length > 0;
            _reader.AdvanceTo(leftover.Buffer.Start);
            if (early)
            {
                return new ProtocolError("E_IDENTIFY_FAILED", "IDENTIFY failed client sent data before the upgrade");
            }
        }

        if (tls)
        {
            var error = await UpgradeTlsAsync().ConfigureAwait(false);
            if (error != null)
            {
                return error;
            }
        }

        if (snappy)
        {
            var stream = new SnappyFrameStream(Output.Stream);
            SwapStreams(stream, stream);
            Snappy = true;
            Output.WriteFrame(FrameType.Response, ProtocolConstants.Ok, flush: true);
        }

        if (deflate)
        {
            SwapStreams(DeflateStreams.CreateReader(_readStream), DeflateStreams.CreateWriter(Output.Stream, deflateLevel));
            Deflate = true;
            Output.WriteFrame(FrameType.Response, ProtocolConstants.Ok, flush: true);
        }

        return null;
    }

    private async ValueTask<ProtocolError?> UpgradeTlsAsync()
    {
        var tls = _server.Tls!;
        var ssl = new SslStream(_readStream, leaveInnerStreamOpen: false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await ssl.AuthenticateAsServerAsync(tls.ServerOptions(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new IOException("TLS handshake failed: " + e.Message, e);
        }

        Tls = true;
        TlsVersion = TlsSettings.VersionName(ssl.SslProtocol);
        TlsCipherSuite = ssl.NegotiatedCipherSuite.ToString();
        if (ssl.RemoteCertificate is { } cert)
        {
            _tlsCommonName = new System.Security.Cryptography.X509Certificates.X509Certificate2(cert).GetNameInfo(
                System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, forIssuer: false) ?? "";
        }

        SwapStreams(ssl, ssl);
        Output.WriteFrame(FrameType.Response, ProtocolConstants.Ok, flush: true);

        // The OK must leave over TLS before a snappy/deflate upgrade swaps the stream again.
        await Output.DrainAsync().WaitAsync(_closed.Token).ConfigureAwait(false);
        return null;
    }

    private void SwapStreams(Stream read, Stream write)
    {
        _reader.Complete();
        _readStream = read;
        _reader = PipeReader.Create(read, ReaderOptions);
        Output.ReplaceStream(write);
    }

    /// <summary>Validates and applies IDENTIFY fields; returns upstream's error text or null.</summary>
    private string? ApplyIdentify(IdentifyData data)
    {
        var heartbeat = data.HeartbeatInterval switch
        {
            -1 => -1,
            0 => (long)(_options.ClientTimeout.TotalMilliseconds / 2),
            >= 1000 when data.HeartbeatInterval <= _options.MaxHeartbeatInterval.TotalMilliseconds => data.HeartbeatInterval,
            _ => long.MinValue,
        };
        if (heartbeat == long.MinValue)
        {
            return $"heartbeat interval ({data.HeartbeatInterval}) is invalid";
        }

        var bufferTimeout = Output.TimeoutMs;
        switch (data.OutputBufferTimeout)
        {
            case -1:
                bufferTimeout = 0;
                break;
            case 0:
                break;
            default:
                if (data.OutputBufferTimeout < _options.MinOutputBufferTimeout.TotalMilliseconds ||
                    data.OutputBufferTimeout > _options.MaxOutputBufferTimeout.TotalMilliseconds)
                {
                    return $"output buffer timeout ({data.OutputBufferTimeout}) is invalid";
                }

                bufferTimeout = data.OutputBufferTimeout;
                break;
        }

        var bufferSize = Output.BufferSize;
        switch (data.OutputBufferSize)
        {
            case -1:
                bufferSize = 1;
                bufferTimeout = 0;
                break;
            case 0:
                break;
            default:
                if (data.OutputBufferSize < 64 || data.OutputBufferSize > _options.MaxOutputBufferSize)
                {
                    return $"output buffer size ({data.OutputBufferSize}) is invalid";
                }

                bufferSize = (int)data.OutputBufferSize;
                break;
        }

        if (data.SampleRate is < 0 or > 99)
        {
            return $"sample rate ({data.SampleRate}) is invalid";
        }

        long msgTimeout = MsgTimeoutMs;
        if (data.MsgTimeout != 0)
        {
            if (data.MsgTimeout < 1000 || data.MsgTimeout > _options.MaxMsgTimeout.TotalMilliseconds)
            {
                return $"msg timeout ({data.MsgTimeout}) is invalid";
            }

            msgTimeout = data.MsgTimeout;
        }

        Name = string.IsNullOrEmpty(data.ClientId) ? Name : data.ClientId;
        Hostname = string.IsNullOrEmpty(data.Hostname) ? Hostname : data.Hostname;
        UserAgent = data.UserAgent ?? "";
        TopologyZone = data.TopologyZone ?? "";
        TopologyRegion = data.TopologyRegion ?? "";
        HeartbeatIntervalMs = heartbeat;
        Output.BufferSize = bufferSize;
        Output.TimeoutMs = bufferTimeout;
        SampleRate = data.SampleRate;
        MsgTimeoutMs = msgTimeout;
        _heartbeatReset.Set();
        return null;
    }

    private async ValueTask<ProtocolError?> AuthAsync(ReadOnlyMemory<byte> line)
    {
        if (State != ClientState.Init)
        {
            return ProtocolError.Invalid("cannot AUTH in current state");
        }

        if (CommandReader.Params(line.Span).Length != 1)
        {
            return ProtocolError.Invalid("AUTH invalid number of parameters");
        }

        var size = await ReadInt32Async(ProtocolError.BadBody("AUTH failed to read body size")).ConfigureAwait(false);
        if (size > _options.MaxBodySize)
        {
            return ProtocolError.BadBody($"AUTH body too big {size} > {_options.MaxBodySize}");
        }

        if (size <= 0)
        {
            return ProtocolError.BadBody($"AUTH invalid body size {size}");
        }

        var body = await ReadBodyAsync(size, ProtocolError.BadBody("AUTH failed to read body")).ConfigureAwait(false);
        var secret = ProtocolConstants.Utf8.GetString(body, 0, size);
        ArrayPool<byte>.Shared.Return(body);
        if (AuthState != null)
        {
            return ProtocolError.Invalid("AUTH already set");
        }

        if (!_server.Auth.Enabled)
        {
            return new ProtocolError("E_AUTH_DISABLED", "AUTH disabled");
        }

        Auth.AuthState state;
        try
        {
            state = await _server.Auth.QueryAsync(secret, RemoteIp, Tls, _tlsCommonName, _closed.Token).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            return new ProtocolError("E_AUTH_FAILED", "AUTH failed");
        }

        _authSecret = secret;
        AuthState = state;
        if (state.Authorizations.Count == 0)
        {
            return new ProtocolError("E_UNAUTHORIZED", "AUTH no authorizations found");
        }

        // Upstream counts authorization entries, not the permissions inside them.
        var json = JsonSerializer.SerializeToUtf8Bytes(
            new AuthResponse { Identity = state.Identity, IdentityUrl = state.IdentityUrl, PermissionCount = state.Authorizations.Count },
            ProtocolJsonContext.Default.AuthResponse);
        await _replies.Writer.WriteAsync(Reply.Frame(FrameType.Response, json), _closed.Token).ConfigureAwait(false);
        return null;
    }
}
