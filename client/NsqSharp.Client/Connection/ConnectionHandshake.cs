using System.Buffers;
using System.Net.Security;
using System.Text;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Compression;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Connection;

/// <summary>
/// Connection setup after the TCP connect: magic, IDENTIFY (feature negotiation), TLS, snappy/deflate,
/// AUTH, then SUB for consumers. Frames are read with exact-length reads so nothing is read past the
/// IDENTIFY response before the stream is upgraded (nsqd switches to TLS/compression right after it).
/// </summary>
internal static class ConnectionHandshake
{
    public static async Task<HandshakeResult> RunAsync(Stream network, string host, NsqConfig config,
        SubscribeRequest? subscribe, CancellationToken cancellationToken)
    {
        Stream stream = network;
        await WriteAsync(stream, static w => CommandWriter.WriteMagic(w), cancellationToken).ConfigureAwait(false);

        var identifyBody = IdentifyRequest.Build(config);
        await WriteAsync(stream, w => CommandWriter.WriteIdentify(w, identifyBody), cancellationToken).ConfigureAwait(false);
        var identify = IdentifyResponse.Parse(await ExpectResponseAsync(stream, config, "IDENTIFY", cancellationToken).ConfigureAwait(false));

        if (config.TlsV1 && !identify.TlsV1)
        {
            // go-nsq silently continues in plain text here; a client that asked for TLS should not.
            throw new NsqNegotiationException("tls_v1 requested but nsqd did not enable TLS (start nsqd with --tls-cert/--tls-key)");
        }

        if (identify.TlsV1)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            try
            {
                await ssl.AuthenticateAsClientAsync(TlsOptionsBuilder.Build(config, host), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
                throw new NsqNegotiationException("TLS handshake with nsqd failed: " + e.Message, e);
            }

            stream = ssl;
            await ExpectOkAsync(stream, config, "TLS upgrade", cancellationToken).ConfigureAwait(false);
        }

        if (identify.Deflate)
        {
            var level = identify.DeflateLevel > 0 ? identify.DeflateLevel : config.DeflateLevel;
            stream = DeflateStreams.CreateDuplex(stream, level);
            await ExpectOkAsync(stream, config, "deflate upgrade", cancellationToken).ConfigureAwait(false);
        }
        else if (identify.Snappy)
        {
            stream = new SnappyFrameStream(stream);
            await ExpectOkAsync(stream, config, "snappy upgrade", cancellationToken).ConfigureAwait(false);
        }

        AuthResponse? auth = null;
        if (identify.AuthRequired)
        {
            if (string.IsNullOrEmpty(config.AuthSecret))
            {
                throw new NsqNegotiationException("nsqd requires AUTH but no auth_secret is configured");
            }

            var secret = Encoding.UTF8.GetBytes(config.AuthSecret);
            await WriteAsync(stream, w => CommandWriter.WriteAuth(w, secret), cancellationToken).ConfigureAwait(false);
            auth = AuthResponse.Parse(await ExpectResponseAsync(stream, config, "AUTH", cancellationToken).ConfigureAwait(false));
        }

        if (subscribe != null)
        {
            await WriteAsync(stream, w => CommandWriter.WriteSub(w, subscribe.Topic, subscribe.Channel), cancellationToken)
                .ConfigureAwait(false);
            await ExpectOkAsync(stream, config, "SUB", cancellationToken).ConfigureAwait(false);
        }

        return new HandshakeResult(stream, identify, auth);
    }

    private static async Task ExpectOkAsync(Stream stream, NsqConfig config, string step, CancellationToken cancellationToken)
    {
        var data = await ExpectResponseAsync(stream, config, step, cancellationToken).ConfigureAwait(false);
        if (!data.AsSpan().SequenceEqual(ProtocolConstants.Ok))
        {
            throw new NsqProtocolException($"{step}: expected OK, got '{Encoding.UTF8.GetString(data)}'");
        }
    }

    /// <summary>Reads the next response frame, answering heartbeats on the way; an error frame throws.</summary>
    private static async Task<byte[]> ExpectResponseAsync(Stream stream, NsqConfig config, string step,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                var (type, data) = await FrameReader.ReadAsync(stream, config.MaxFrameSize, cancellationToken).ConfigureAwait(false);
                switch (type)
                {
                    case FrameType.Error:
                        throw new NsqServerException(Encoding.UTF8.GetString(data));
                    case FrameType.Response when data.AsSpan().SequenceEqual(ProtocolConstants.Heartbeat):
                        await WriteAsync(stream, static w => CommandWriter.WriteNop(w), cancellationToken).ConfigureAwait(false);
                        continue;
                    case FrameType.Response:
                        return data;
                    default:
                        throw new NsqProtocolException($"{step}: unexpected message frame during connection setup");
                }
            }
            catch (EndOfStreamException e)
            {
                throw new NsqConnectionException($"nsqd closed the connection during {step}", e);
            }
            catch (InvalidDataException e)
            {
                throw new NsqProtocolException(e.Message, e);
            }
        }
    }

    private static async Task WriteAsync(Stream stream, Action<IBufferWriter<byte>> encode, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        encode(buffer);
        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
