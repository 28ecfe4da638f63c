using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Tcp;

/// <summary>
/// One nsqd connection after the "  V1" magic (upstream lookup_protocol_v1.go): newline-terminated
/// commands IDENTIFY, REGISTER, UNREGISTER, PING; responses framed [int32 size][data]; every error
/// is sent as "E_CODE description" and closes the connection. When the connection ends, the peer
/// is removed from every registration it made.
/// </summary>
internal sealed class LookupProtocolV1(
    ILookupRegistry registry,
    LookupdOptions options,
    byte[] identifyResponse,
    ILogger logger)
{
    private static readonly byte[] Ok = "OK"u8.ToArray();

    public async Task RunAsync(PipeReader reader, PipeWriter writer, string remoteAddress, CancellationTokenSource timeout)
    {
        var connection = new ConnectionState(remoteAddress);
        try
        {
            await IoLoopAsync(reader, writer, connection, timeout).ConfigureAwait(false);
        }
        finally
        {
            logger.LogInformation("CLIENT({Client}): closing", remoteAddress);
            if (connection.Peer != null)
            {
                foreach (var key in await registry.RemovePeerAsync(connection.Peer).ConfigureAwait(false))
                {
                    logger.LogInformation("DB: client({Client}) UNREGISTER category:{Category} key:{Key} subkey:{SubKey}",
                        remoteAddress, key.Category, key.Key, key.SubKey);
                }
            }
        }
    }

    private async Task IoLoopAsync(PipeReader reader, PipeWriter writer, ConnectionState connection, CancellationTokenSource timeout)
    {
        var idle = options.EffectiveClientIdleTimeout;
        while (true)
        {
            timeout.CancelAfter(idle);
            var (status, line) = await PipeIo.ReadLineAsync(reader, options.MaxCommandLineLength, timeout.Token).ConfigureAwait(false);
            if (status == PipeIo.LineStatus.EndOfStream)
            {
                return;
            }

            byte[]? response;
            FatalClientError? error;
            if (status == PipeIo.LineStatus.TooLong)
            {
                (response, error) = (null, new FatalClientError("E_INVALID", "command line too long"));
            }
            else
            {
                var parameters = line.Trim().Split(' ');
                timeout.CancelAfter(idle);
                (response, error) = await ExecAsync(connection, reader, parameters, timeout.Token).ConfigureAwait(false);
            }

            timeout.CancelAfter(idle);
            if (error != null)
            {
                logger.LogError("[{Client}] - {Error}", connection.RemoteAddress, error);
                await PipeIo.SendResponseAsync(writer, error.ToString(), timeout.Token).ConfigureAwait(false);
                return; // all lookupd errors are fatal
            }

            if (response != null)
            {
                await PipeIo.SendResponseAsync(writer, response, timeout.Token).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<(byte[]? Response, FatalClientError? Error)> ExecAsync(
        ConnectionState connection, PipeReader reader, string[] parameters, CancellationToken ct)
    {
        switch (parameters[0])
        {
            case "PING":
                return await PingAsync(connection).ConfigureAwait(false);
            case "IDENTIFY":
                return await IdentifyAsync(connection, reader, ct).ConfigureAwait(false);
            case "REGISTER":
                return await RegisterAsync(connection, parameters).ConfigureAwait(false);
            case "UNREGISTER":
                return await UnregisterAsync(connection, parameters).ConfigureAwait(false);
            default:
                return (null, new FatalClientError("E_INVALID", "invalid command " + parameters[0]));
        }
    }

    private async ValueTask<(byte[]?, FatalClientError?)> PingAsync(ConnectionState connection)
    {
        // A PING may come before IDENTIFY; then there is no peer to refresh.
        if (connection.Peer is { } peer)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                var last = peer.LastUpdateUnixNanos;
                await registry.TouchAsync(peer).ConfigureAwait(false);
                logger.LogDebug("CLIENT({Client}): pinged (last ping {Elapsed})", peer.Id,
                    TimeSpan.FromTicks((peer.LastUpdateUnixNanos - last) / 100));
            }
            else
            {
                await registry.TouchAsync(peer).ConfigureAwait(false);
            }
        }

        return (Ok, null);
    }

    private async ValueTask<(byte[]?, FatalClientError?)> IdentifyAsync(ConnectionState connection, PipeReader reader, CancellationToken ct)
    {
        if (connection.Peer != null)
        {
            return (null, new FatalClientError("E_INVALID", "cannot IDENTIFY again"));
        }

        var bodyLength = await PipeIo.ReadInt32BigEndianAsync(reader, ct).ConfigureAwait(false);
        if (bodyLength == null)
        {
            return (null, new FatalClientError("E_BAD_BODY", "IDENTIFY failed to read body size"));
        }

        if (bodyLength < 0)
        {
            return (null, new FatalClientError("E_BAD_BODY", $"IDENTIFY invalid body size {bodyLength}"));
        }

        if (bodyLength > options.MaxIdentifyBodySize)
        {
            return (null, new FatalClientError("E_BAD_BODY", $"IDENTIFY body too big {bodyLength} > {options.MaxIdentifyBodySize}"));
        }

        var body = await PipeIo.ReadExactlyAsync(reader, bodyLength.Value, ct).ConfigureAwait(false);
        if (body == null)
        {
            return (null, new FatalClientError("E_BAD_BODY", "IDENTIFY failed to read body"));
        }

        var peer = new PeerInfo(connection.RemoteAddress);
        if (body.Length == 0 || !IdentifyBody.TryApply(body, peer))
        {
            return (null, new FatalClientError("E_BAD_BODY", "IDENTIFY failed to decode JSON body"));
        }

        peer.RemoteAddress = connection.RemoteAddress;
        if (peer.BroadcastAddress.Length == 0 || peer.TcpPort == 0 || peer.HttpPort == 0 || peer.Version.Length == 0)
        {
            return (null, new FatalClientError("E_BAD_BODY", "IDENTIFY missing fields"));
        }

        await registry.TouchAsync(peer).ConfigureAwait(false);
        logger.LogInformation("CLIENT({Client}): IDENTIFY Address:{Address} TCP:{TcpPort} HTTP:{HttpPort} Version:{Version}",
            connection.RemoteAddress, peer.BroadcastAddress, peer.TcpPort, peer.HttpPort, peer.Version);

        connection.Peer = peer;
        if (await registry.AddPeerAsync(peer).ConfigureAwait(false))
        {
            logger.LogInformation("DB: client({Client}) REGISTER category:client key: subkey:", connection.RemoteAddress);
        }

        return (identifyResponse, null);
    }

    private async ValueTask<(byte[]?, FatalClientError?)> RegisterAsync(ConnectionState connection, string[] parameters)
    {
        if (connection.Peer is not { } peer)
        {
            return (null, new FatalClientError("E_INVALID", "client must IDENTIFY"));
        }

        if (ParseTopicChannel("REGISTER", parameters, out var topic, out var channel) is { } error)
        {
            return (null, error);
        }

        if (channel.Length > 0 && await registry.RegisterChannelAsync(peer, topic, channel).ConfigureAwait(false))
        {
            logger.LogInformation("DB: client({Client}) REGISTER category:channel key:{Topic} subkey:{Channel}",
                connection.RemoteAddress, topic, channel);
        }

        if (await registry.RegisterTopicAsync(peer, topic).ConfigureAwait(false))
        {
            logger.LogInformation("DB: client({Client}) REGISTER category:topic key:{Topic} subkey:", connection.RemoteAddress, topic);
        }

        return (Ok, null);
    }

    private async ValueTask<(byte[]?, FatalClientError?)> UnregisterAsync(ConnectionState connection, string[] parameters)
    {
        if (connection.Peer is not { } peer)
        {
            return (null, new FatalClientError("E_INVALID", "client must IDENTIFY"));
        }

        if (ParseTopicChannel("UNREGISTER", parameters, out var topic, out var channel) is { } error)
        {
            return (null, error);
        }

        if (channel.Length > 0)
        {
            if (await registry.UnregisterChannelAsync(peer, topic, channel).ConfigureAwait(false))
            {
                logger.LogInformation("DB: client({Client}) UNREGISTER category:channel key:{Topic} subkey:{Channel}",
                    connection.RemoteAddress, topic, channel);
            }

            return (Ok, null);
        }

        var result = await registry.UnregisterTopicAsync(peer, topic).ConfigureAwait(false);
        foreach (var unexpected in result.UnexpectedChannels)
        {
            logger.LogWarning("client({Client}) unexpected UNREGISTER category:channel key:{Topic} subkey:{Channel}",
                connection.RemoteAddress, topic, unexpected);
        }

        if (result.TopicRemoved)
        {
            logger.LogInformation("DB: client({Client}) UNREGISTER category:topic key:{Topic} subkey:", connection.RemoteAddress, topic);
        }

        return (Ok, null);
    }

    /// <summary>Upstream getTopicChan: parameters after the command are "topic [channel]".</summary>
    private static FatalClientError? ParseTopicChannel(string command, string[] parameters, out string topic, out string channel)
    {
        topic = "";
        channel = "";
        if (parameters.Length < 2)
        {
            return new FatalClientError("E_INVALID", command + " insufficient number of params");
        }

        topic = parameters[1];
        if (parameters.Length >= 3)
        {
            channel = parameters[2];
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return new FatalClientError("E_BAD_TOPIC", $"{command} topic name '{topic}' is not valid");
        }

        if (channel.Length > 0 && !NsqNames.IsValidChannelName(channel))
        {
            return new FatalClientError("E_BAD_CHANNEL", $"{command} channel name '{channel}' is not valid");
        }

        return null;
    }

    private sealed class ConnectionState(string remoteAddress)
    {
        public string RemoteAddress { get; } = remoteAddress;

        public PeerInfo? Peer { get; set; }
    }
}
