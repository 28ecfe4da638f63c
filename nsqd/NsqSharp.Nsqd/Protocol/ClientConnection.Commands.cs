using System.Buffers;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Cluster;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>The V2 commands with upstream's validation order, error codes and texts (nsqd/protocol_v2.go).</summary>
internal sealed partial class ClientConnection
{
    private const long NanosPerMilli = 1_000_000;
    private Topic? _lastTopic;

    private ValueTask<ProtocolError?> ExecuteAsync(ReadOnlyMemory<byte> line)
    {
        var span = line.Span;
        var name = CommandReader.Name(span);

        if (name.SequenceEqual("IDENTIFY"u8))
        {
            return IdentifyAsync(line);
        }

        if (_options.TcpTlsRequired && !Tls)
        {
            return Fail(ProtocolError.Invalid(ProtocolError.Text("cannot ", name, " in current state (TLS required)")));
        }

        if (name.SequenceEqual("FIN"u8))
        {
            return new(Finish(span));
        }

        if (name.SequenceEqual("RDY"u8))
        {
            return new(Ready(span));
        }

        if (name.SequenceEqual("REQ"u8))
        {
            return new(Requeue(span));
        }

        if (name.SequenceEqual("PUB"u8))
        {
            return PublishAsync(line);
        }

        if (name.SequenceEqual("MPUB"u8))
        {
            return MultiPublishAsync(line);
        }

        if (name.SequenceEqual("DPUB"u8))
        {
            return DeferredPublishAsync(line);
        }

        if (name.SequenceEqual("NOP"u8))
        {
            return new((ProtocolError?)null);
        }

        if (name.SequenceEqual("TOUCH"u8))
        {
            return new(Touch(span));
        }

        if (name.SequenceEqual("SUB"u8))
        {
            return SubscribeAsync(line);
        }

        if (name.SequenceEqual("CLS"u8))
        {
            return CloseWaitAsync();
        }

        if (name.SequenceEqual("AUTH"u8))
        {
            return AuthAsync(line);
        }

        return Fail(ProtocolError.Invalid(ProtocolError.Text("invalid command ", name)));
    }

    private static ValueTask<ProtocolError?> Fail(ProtocolError error) => new(error);

    private ProtocolError? Ready(ReadOnlySpan<byte> line)
    {
        var state = State;
        if (state == ClientState.Closing)
        {
            return null; // ignore RDY changes on a closing connection
        }

        if (state != ClientState.Subscribed)
        {
            return ProtocolError.Invalid("cannot RDY in current state");
        }

        long count = 1;
        var space = line.IndexOf((byte)' ');
        if (space >= 0)
        {
            var arg = CommandReader.NextParam(line[(space + 1)..]);
            if (!CommandReader.TryParseBase10(arg, out var parsed))
            {
                return ProtocolError.Invalid(ProtocolError.Text("RDY could not parse count ", arg));
            }

            count = unchecked((long)parsed); // int64(b10), as upstream
        }

        if (count < 0 || count > _options.MaxRdyCount)
        {
            return ProtocolError.Invalid($"RDY count {count} out of range 0-{_options.MaxRdyCount}");
        }

        Interlocked.Exchange(ref _readyCount, count);
        _pumpSignal.Set();
        return null;
    }

    private ProtocolError? Finish(ReadOnlySpan<byte> line)
    {
        var state = State;
        if (state is not (ClientState.Subscribed or ClientState.Closing))
        {
            return ProtocolError.Invalid("cannot FIN in current state");
        }

        var parts = CommandReader.SplitParams(line, out var idBytes, out _);
        if (parts < 2)
        {
            return ProtocolError.Invalid("FIN insufficient number of params");
        }

        if (idBytes.Length != MessageId.Length)
        {
            return ProtocolError.Invalid("invalid message ID");
        }

        var error = MessageId.TryParse(idBytes, out var id) ? _channel!.Finish(this, id) : "ID not in flight";
        if (error != null)
        {
            return new ProtocolError("E_FIN_FAILED", ProtocolError.Text("FIN ", idBytes, " failed " + error), fatal: false);
        }

        Interlocked.Increment(ref _finishCount);
        InFlightReleased(1);
        return null;
    }

    private ProtocolError? Requeue(ReadOnlySpan<byte> line)
    {
        var state = State;
        if (state is not (ClientState.Subscribed or ClientState.Closing))
        {
            return ProtocolError.Invalid("cannot REQ in current state");
        }

        var parts = CommandReader.SplitParams(line, out var idBytes, out var timeoutBytes);
        if (parts < 3)
        {
            return ProtocolError.Invalid("REQ insufficient number of params");
        }

        if (idBytes.Length != MessageId.Length)
        {
            return ProtocolError.Invalid("invalid message ID");
        }

        if (!CommandReader.TryParseBase10(timeoutBytes, out var parsed))
        {
            return ProtocolError.Invalid(ProtocolError.Text("REQ could not parse timeout ", timeoutBytes));
        }

        // Clamped, not rejected (upstream: time.Duration(timeoutMs) * time.Millisecond, wrapping as Go's int64 does).
        var timeoutNs = Math.Clamp(unchecked((long)parsed * NanosPerMilli), 0, _options.MaxReqTimeout.Ticks * 100);
        var timeoutMs = timeoutNs / NanosPerMilli;
        var error = MessageId.TryParse(idBytes, out var id) ? _channel!.Requeue(this, id, timeoutMs) : "ID not in flight";
        if (error != null)
        {
            return new ProtocolError("E_REQ_FAILED", ProtocolError.Text("REQ ", idBytes, " failed " + error), fatal: false);
        }

        Interlocked.Increment(ref _requeueCount);
        InFlightReleased(1);
        return null;
    }

    private ProtocolError? Touch(ReadOnlySpan<byte> line)
    {
        var state = State;
        if (state is not (ClientState.Subscribed or ClientState.Closing))
        {
            return ProtocolError.Invalid("cannot TOUCH in current state");
        }

        var parts = CommandReader.SplitParams(line, out var idBytes, out _);
        if (parts < 2)
        {
            return ProtocolError.Invalid("TOUCH insufficient number of params");
        }

        if (idBytes.Length != MessageId.Length)
        {
            return ProtocolError.Invalid("invalid message ID");
        }

        var error = MessageId.TryParse(idBytes, out var id)
            ? _channel!.Touch(this, id, MsgTimeoutMs, (long)_options.MaxMsgTimeout.TotalMilliseconds)
            : "ID not in flight";
        return error == null
            ? null
            : new ProtocolError("E_TOUCH_FAILED", ProtocolError.Text("TOUCH ", idBytes, " failed " + error), fatal: false);
    }

    private async ValueTask<ProtocolError?> SubscribeAsync(ReadOnlyMemory<byte> line)
    {
        if (State != ClientState.Init)
        {
            return ProtocolError.Invalid("cannot SUB in current state");
        }

        if (HeartbeatIntervalMs <= 0)
        {
            return ProtocolError.Invalid("cannot SUB with heartbeats disabled");
        }

        var p = CommandReader.Params(line.Span);
        if (p.Length < 3)
        {
            return ProtocolError.Invalid("SUB insufficient number of parameters");
        }

        var topicName = p[1];
        var channelName = p[2];
        if (!NsqNames.IsValidTopicName(topicName))
        {
            return ProtocolError.BadTopic(ProtocolError.Text("SUB topic name ", GoQuote.Quote(topicName), " is not valid"));
        }

        if (!NsqNames.IsValidChannelName(channelName))
        {
            return ProtocolError.BadChannel(ProtocolError.Text("SUB channel name ", GoQuote.Quote(channelName), " is not valid"));
        }

        var authError = await CheckAuthAsync("SUB", topicName, channelName).ConfigureAwait(false);
        if (authError != null)
        {
            return authError;
        }

        Broker.Channel? channel = null;
        for (var attempt = 0; attempt < 3 && channel == null; attempt++)
        {
            Topic topic;
            try
            {
                if (_server.Cluster is { } cluster)
                {
                    // Cluster mode: consumers belong on a leader (lookupd lists only leaders), so a SUB elsewhere is
                    // refused with the error a subscriber of a node that lost leadership gets: rediscover.
                    var local = await ClusterPublisher.LocalTopicAsync(_server, cluster, topicName, _closed.Token).ConfigureAwait(false);
                    if (local == null || !local.LeadsAnyPartition)
                    {
                        return new ProtocolError(ClusterProtocol.NotLeader, $"SUB failed this node does not lead a partition of {topicName}");
                    }

                    topic = local;
                }
                else
                {
                    topic = await _server.Broker.GetOrCreateTopicAsync(topicName, _options.TopicPartitions, _closed.Token).ConfigureAwait(false);
                }
            }
            catch (ClusterRequestException e)
            {
                return new ProtocolError(e.Code, "SUB failed " + e.Message);
            }
            catch (ObjectDisposedException)
            {
                return new ProtocolError("E_SUB_FAILED", "SUB failed nsqd exiting");
            }
            catch (IOException e)
            {
                // e.g. the topic's storage cannot be opened: answer, don't drop the connection
                return new ProtocolError("E_SUB_FAILED", "SUB failed " + e.Message);
            }

            var candidate = topic.TryGetOrCreateChannel(channelName);
            if (candidate == null)
            {
                // The topic is being deleted (an ephemeral topic whose last consumer just left): wait until it is
                // gone, then subscribe to it afresh.
                try
                {
                    await topic.Deleted.WaitAsync(TimeSpan.FromSeconds(10), _closed.Token).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    return new ProtocolError("E_SUB_FAILED", "SUB failed topic is exiting");
                }

                continue;
            }

            var error = candidate.AddClient(this, _options.MaxChannelConsumers);
            if (error != null)
            {
                if (error == "channel is exiting")
                {
                    // An ephemeral channel (or its topic) going away with its last client: wait until it is gone, then
                    // subscribe afresh. Awaited, bounded, no thread blocked.
                    try
                    {
                        await candidate.Deleted.WaitAsync(TimeSpan.FromSeconds(10), _closed.Token).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        return new ProtocolError("E_SUB_FAILED", "SUB failed channel is exiting");
                    }

                    continue;
                }

                return new ProtocolError("E_SUB_FAILED", "SUB failed " + error);
            }

            channel = candidate;
        }

        if (channel == null)
        {
            return new ProtocolError("E_SUB_FAILED", "SUB failed to deleted topic/channel");
        }

        _channel = channel;
        Volatile.Write(ref _state, (int)ClientState.Subscribed);
        await _replies.Writer.WriteAsync(Reply.Frame(Common.Protocol.FrameType.Response, ProtocolConstants.Ok.ToArray()), _closed.Token).ConfigureAwait(false);

        // The pump starts only once the reply loop has put the OK into the output: a RDY that came in the
        // same write must not let a message frame overtake the reply to SUB.
        var okWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pump = Task.Run(() => RunPumpAfterAsync(okWritten.Task, channel));
        await _replies.Writer.WriteAsync(Reply.Barrier(okWritten), _closed.Token).ConfigureAwait(false);
        return null;
    }

    private async Task RunPumpAfterAsync(Task okWritten, Broker.Channel channel)
    {
        try
        {
            await okWritten.WaitAsync(_closed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // closed before the OK went out
        }

        await RunPumpAsync(channel).ConfigureAwait(false);
    }

    private async ValueTask<ProtocolError?> CloseWaitAsync()
    {
        if (State != ClientState.Subscribed)
        {
            return ProtocolError.Invalid("cannot CLS in current state");
        }

        Interlocked.Exchange(ref _readyCount, 0);
        Volatile.Write(ref _state, (int)ClientState.Closing);
        _pumpSignal.Set();
        await _replies.Writer.WriteAsync(Reply.Frame(Common.Protocol.FrameType.Response, ProtocolConstants.CloseWait.ToArray()), _closed.Token)
            .ConfigureAwait(false);
        return null;
    }

    private async ValueTask<ProtocolError?> PublishAsync(ReadOnlyMemory<byte> line)
    {
        var p = CommandReader.Params(line.Span);
        if (p.Length < 2)
        {
            return ProtocolError.Invalid("PUB insufficient number of parameters");
        }

        var topicName = p[1];
        if (!NsqNames.IsValidTopicName(topicName))
        {
            return ProtocolError.BadTopic(ProtocolError.Text("PUB topic name ", GoQuote.Quote(topicName), " is not valid"));
        }

        var size = await ReadInt32Async(ProtocolError.BadMessage("PUB failed to read message body size")).ConfigureAwait(false);
        if (size <= 0)
        {
            return ProtocolError.BadMessage($"PUB invalid message body size {size}");
        }

        if (size > _options.MaxMsgSize)
        {
            return ProtocolError.BadMessage($"PUB message too big {size} > {_options.MaxMsgSize}");
        }

        var body = await ReadBodyAsync(size, ProtocolError.BadMessage("PUB failed to read message body")).ConfigureAwait(false);
        var error = await CheckAuthAsync("PUB", topicName, "").ConfigureAwait(false);
        if (error != null)
        {
            ArrayPool<byte>.Shared.Return(body);
            return error;
        }

        return await EnqueuePublishAsync("PUB", topicName, body, t => t.PublishAsync(body.AsMemory(0, size), 0), 1,
            () => new ForwardedPublish(topicName, [body.AsMemory(0, size)], Multiple: false, 0)).ConfigureAwait(false);
    }

    private async ValueTask<ProtocolError?> DeferredPublishAsync(ReadOnlyMemory<byte> line)
    {
        var p = CommandReader.Params(line.Span);
        if (p.Length < 3)
        {
            return ProtocolError.Invalid("DPUB insufficient number of parameters");
        }

        var topicName = p[1];
        if (!NsqNames.IsValidTopicName(topicName))
        {
            return ProtocolError.BadTopic(ProtocolError.Text("DPUB topic name ", GoQuote.Quote(topicName), " is not valid"));
        }

        var timeoutBytes = Encoding.Latin1.GetBytes(p[2]);
        if (!CommandReader.TryParseBase10(timeoutBytes, out var parsed))
        {
            return ProtocolError.Invalid(ProtocolError.Text("DPUB could not parse timeout ", timeoutBytes));
        }

        // Upstream: time.Duration(timeoutMs) * time.Millisecond (wrapping int64), the uint64 echoed as is.
        var maxDefer = (long)_options.EffectiveMaxDeferTimeout.TotalMilliseconds;
        var deferNs = unchecked((long)parsed * NanosPerMilli);
        if (deferNs < 0 || deferNs > maxDefer * NanosPerMilli)
        {
            return ProtocolError.Invalid($"DPUB timeout {parsed} out of range 0-{maxDefer}");
        }

        var deferMs = deferNs / NanosPerMilli;

        var size = await ReadInt32Async(ProtocolError.BadMessage("DPUB failed to read message body size")).ConfigureAwait(false);
        if (size <= 0)
        {
            return ProtocolError.BadMessage($"DPUB invalid message body size {size}");
        }

        if (size > _options.MaxMsgSize)
        {
            return ProtocolError.BadMessage($"DPUB message too big {size} > {_options.MaxMsgSize}");
        }

        var body = await ReadBodyAsync(size, ProtocolError.BadMessage("DPUB failed to read message body")).ConfigureAwait(false);
        var error = await CheckAuthAsync("DPUB", topicName, "").ConfigureAwait(false);
        if (error != null)
        {
            ArrayPool<byte>.Shared.Return(body);
            return error;
        }

        return await EnqueuePublishAsync("DPUB", topicName, body, t => t.PublishAsync(body.AsMemory(0, size), deferMs), 1,
            () => new ForwardedPublish(topicName, [body.AsMemory(0, size)], Multiple: false, deferMs)).ConfigureAwait(false);
    }

    private async ValueTask<ProtocolError?> MultiPublishAsync(ReadOnlyMemory<byte> line)
    {
        var p = CommandReader.Params(line.Span);
        if (p.Length < 2)
        {
            return ProtocolError.Invalid("MPUB insufficient number of parameters");
        }

        var topicName = p[1];
        if (!NsqNames.IsValidTopicName(topicName))
        {
            // Upstream repeats the code inside the description.
            return ProtocolError.BadTopic(ProtocolError.Text("E_BAD_TOPIC MPUB topic name ", GoQuote.Quote(topicName), " is not valid"));
        }

        // Unlike PUB/DPUB, upstream checks MPUB's authorization before reading the body.
        var error = await CheckAuthAsync("MPUB", topicName, "").ConfigureAwait(false);
        if (error != null)
        {
            return error;
        }

        var size = await ReadInt32Async(ProtocolError.BadBody("MPUB failed to read body size")).ConfigureAwait(false);
        if (size <= 0)
        {
            return ProtocolError.BadBody($"MPUB invalid body size {size}");
        }

        if (size > _options.MaxBodySize)
        {
            return ProtocolError.BadBody($"MPUB body too big {size} > {_options.MaxBodySize}");
        }

        var (body, read) = await ReadUpToAsync(size).ConfigureAwait(false);
        var parsed = MultiPublishParser.Parse(body.AsMemory(0, read), _options.MaxMsgSize, _options.MaxBodySize, out var messages);
        if (parsed != null || read < size)
        {
            // Upstream parses MPUB off the socket, so a truncated body fails where the parse stopped.
            ArrayPool<byte>.Shared.Return(body);
            return parsed ?? ProtocolError.BadMessage("MPUB failed to read message body");
        }

        return await EnqueuePublishAsync("MPUB", topicName, body, t => t.PublishBatchAsync(messages, 0), messages.Count,
            () => new ForwardedPublish(topicName, messages, Multiple: true, 0)).ConfigureAwait(false);
    }

    /// <summary>Starts the durable append and queues its reply; the read loop goes on (pipelining).</summary>
    private async ValueTask<ProtocolError?> EnqueuePublishAsync(string command, string topicName, byte[] body, Func<Topic, ValueTask> publish, int count,
        Func<ForwardedPublish> forward)
    {
        if (_server.Cluster is { } cluster)
        {
            // Cluster mode: the reply waits for the local leader or the leader this node forwards to.
            PubCounts.AddOrUpdate(topicName, count, (_, c) => c + count);
            var replicated = ClusterPublisher.PublishAsync(_server, cluster, forward(), publish, IsForwarder, _closed.Token);
            await _replies.Writer.WriteAsync(Reply.Published(command, replicated, body), _closed.Token).ConfigureAwait(false);
            return null;
        }

        Topic topic;
        try
        {
            topic = await TopicForAsync(topicName).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            ArrayPool<byte>.Shared.Return(body);
            return new ProtocolError($"E_{command}_FAILED", $"{command} failed exiting");
        }
        catch (IOException e)
        {
            ArrayPool<byte>.Shared.Return(body);
            return new ProtocolError($"E_{command}_FAILED", $"{command} failed {e.Message}");
        }

        ValueTask pending;
        try
        {
            pending = publish(topic);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            ArrayPool<byte>.Shared.Return(body);
            return new ProtocolError($"E_{command}_FAILED", $"{command} failed {e.Message}");
        }

        PubCounts.AddOrUpdate(topicName, count, (_, c) => c + count);
        await _replies.Writer.WriteAsync(Reply.Published(command, pending, body), _closed.Token).ConfigureAwait(false);
        return null;
    }

    /// <summary>The connection is another node forwarding publishes (it identified as one).</summary>
    private bool IsForwarder => UserAgent.StartsWith(ClusterProtocol.ForwarderUserAgentPrefix, StringComparison.Ordinal);

    private async ValueTask<Topic> TopicForAsync(string name)
    {
        var last = _lastTopic;
        if (last != null && !last.IsDeleting && last.Name == name)
        {
            return last;
        }

        var topic = await _server.Broker.GetOrCreateTopicAsync(name, _options.TopicPartitions, _closed.Token).ConfigureAwait(false);
        _lastTopic = topic;
        return topic;
    }

    private async ValueTask<ProtocolError?> CheckAuthAsync(string command, string topic, string channel)
    {
        if (!_server.Auth.Enabled)
        {
            return null;
        }

        var state = AuthState;
        if (state == null)
        {
            return new ProtocolError("E_AUTH_FIRST", $"AUTH required before {command}");
        }

        if (state.IsExpired)
        {
            try
            {
                state = await _server.Auth.QueryAsync(_authSecret, RemoteIp, Tls, _tlsCommonName, _closed.Token).ConfigureAwait(false);
                AuthState = state;
            }
            catch (InvalidDataException)
            {
                return new ProtocolError("E_AUTH_FAILED", "AUTH failed");
            }
        }

        return state.IsAllowed(topic, channel)
            ? null
            : new ProtocolError("E_UNAUTHORIZED", ProtocolError.Text($"AUTH failed for {command} on ", [.. GoQuote.Quote(topic), (byte)' ', .. GoQuote.Quote(channel)]));
    }
}
