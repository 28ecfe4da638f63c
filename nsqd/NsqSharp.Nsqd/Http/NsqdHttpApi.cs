using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Protocol;
using NsqSharp.Common.Http;

namespace NsqSharp.Nsqd.Http;

/// <summary>
/// The nsqd HTTP API with upstream's routes, status codes and messages (nsqd/http.go), plus
/// /metrics (Prometheus text) and /channel/seek (replay, see docs/PROTOCOL.md).
/// </summary>
internal sealed class NsqdHttpApi
{
    private readonly NsqdServer _server;
    private readonly ILogger _logger;
    private readonly Dictionary<string, (string Method, Func<HttpContext, GoQuery, Task> Handler)[]> _routes;

    public NsqdHttpApi(NsqdServer server, ILogger logger)
    {
        _server = server;
        _logger = logger;
        _routes = new(StringComparer.Ordinal)
        {
            ["/ping"] = [("GET", Ping), ("HEAD", Ping)],
            ["/info"] = [("GET", Info)],
            ["/pub"] = [("POST", Publish)],
            ["/mpub"] = [("POST", MultiPublish)],
            ["/stats"] = [("GET", Stats)],
            ["/metrics"] = [("GET", Metrics)],
            ["/topic/create"] = [("POST", CreateTopic)],
            ["/topic/delete"] = [("POST", DeleteTopic)],
            ["/topic/empty"] = [("POST", (c, q) => WithExistingTopic(c, q, validateName: true, t => t.Empty()))],
            ["/topic/pause"] = [("POST", (c, q) => WithExistingTopic(c, q, validateName: false, t => t.Pause()))],
            ["/topic/unpause"] = [("POST", (c, q) => WithExistingTopic(c, q, validateName: false, t => t.Unpause()))],
            ["/channel/create"] = [("POST", CreateChannel)],
            ["/channel/delete"] = [("POST", DeleteChannel)],
            ["/channel/empty"] = [("POST", (c, q) => WithExistingChannel(c, q, ch => ch.Empty()))],
            ["/channel/pause"] = [("POST", (c, q) => WithExistingChannel(c, q, ch => ch.Pause()))],
            ["/channel/unpause"] = [("POST", (c, q) => WithExistingChannel(c, q, ch => ch.Unpause()))],
            ["/channel/seek"] = [("POST", Seek)],
            ["/debug/freememory"] = [("POST", FreeMemory)],
        };
    }

    /// <summary>Port of the HTTPS listener, reported when plain HTTP is refused (--tls-required).</summary>
    public int HttpsPort { get; set; }

    public async Task HandleAsync(HttpContext ctx)
    {
        try
        {
            if (_server.Options.HttpTlsRequired && !ctx.Request.IsHttps)
            {
                var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["message"] = "TLS_REQUIRED", ["https_port"] = HttpsPort });
                await HttpReplies.Json(ctx, json, 403).ConfigureAwait(false);
                return;
            }

            var path = ctx.Request.Path.Value ?? "/";
            // httprouter's /config/:opt matches exactly one non-empty segment.
            if (path.StartsWith("/config/", StringComparison.Ordinal) && path.Length > "/config/".Length && path.IndexOf('/', "/config/".Length) < 0)
            {
                await Config(ctx, path["/config/".Length..]).ConfigureAwait(false);
                return;
            }

            if (!_routes.TryGetValue(path, out var methods))
            {
                // httprouter's RedirectTrailingSlash: 301 for GET, 307 otherwise.
                if (path.Length > 1 && path.EndsWith('/') && _routes.ContainsKey(path.TrimEnd('/')))
                {
                    ctx.Response.StatusCode = ctx.Request.Method == "GET" ? 301 : 307;
                    ctx.Response.Headers.Location = path.TrimEnd('/') + ctx.Request.QueryString.Value;
                    return;
                }

                await HttpReplies.Error(ctx, 404, "NOT_FOUND").ConfigureAwait(false);
                return;
            }

            foreach (var (method, handler) in methods)
            {
                if (method == ctx.Request.Method)
                {
                    var query = GoQuery.TryParse(ctx.Request.QueryString.Value, out var parsed) ? parsed : throw new HttpError(400, "INVALID_REQUEST");
                    await handler(ctx, query).ConfigureAwait(false);
                    return;
                }
            }

            await HttpReplies.Error(ctx, 405, "METHOD_NOT_ALLOWED").ConfigureAwait(false);
        }
        catch (HttpError e)
        {
            if (!ctx.Response.HasStarted)
            {
                await HttpReplies.Error(ctx, e.Status, e.Message, e.Detail).ConfigureAwait(false);
            }
        }
        catch (BadHttpRequestException)
        {
            if (!ctx.Response.HasStarted)
            {
                await HttpReplies.Error(ctx, 413, "MSG_TOO_BIG").ConfigureAwait(false);
            }
        }
    }

    private Task Ping(HttpContext ctx, GoQuery q)
    {
        var health = _server.Broker.Health;
        return health == null ? HttpReplies.Text(ctx, "OK") : HttpReplies.Text(ctx, "NOK - " + health, 500);
    }

    /// <summary>Upstream's POST /debug/freememory (debug.FreeOSMemory): a full, compacting GC that gives free memory back to the OS.</summary>
    private static Task FreeMemory(HttpContext ctx, GoQuery q)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return HttpReplies.Empty(ctx);
    }

    private Task Info(HttpContext ctx, GoQuery q)
    {
        var o = _server.Options;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("version", ProtocolConstants.CompatibleVersion);
            w.WriteString("broadcast_address", o.BroadcastAddress);
            w.WriteString("hostname", Environment.MachineName);
            w.WriteNumber("http_port", _server.BroadcastHttpPort);
            w.WriteNumber("tcp_port", _server.BroadcastTcpPort);
            w.WriteNumber("start_time", _server.StartTime.ToUnixTimeSeconds());
            w.WriteNumber("max_heartbeat_interval", o.MaxHeartbeatInterval.Ticks * 100);
            w.WriteNumber("max_output_buffer_size", o.MaxOutputBufferSize);
            w.WriteNumber("max_output_buffer_timeout", o.MaxOutputBufferTimeout.Ticks * 100);
            w.WriteNumber("max_deflate_level", o.MaxDeflateLevel);
            w.WriteString("topology_zone", "");
            w.WriteString("topology_region", "");
            w.WriteString("product_version", ProtocolConstants.ProductVersion);
            w.WriteEndObject();
        }

        return HttpReplies.Json(ctx, stream.ToArray());
    }

    private async Task Publish(HttpContext ctx, GoQuery q)
    {
        var o = _server.Options;
        if (ctx.Request.ContentLength > o.MaxMsgSize)
        {
            throw new HttpError(413, "MSG_TOO_BIG");
        }

        var body = await ReadBodyAsync(ctx, o.MaxMsgSize, "MSG_TOO_BIG").ConfigureAwait(false);
        if (body.Length == 0)
        {
            throw new HttpError(400, "MSG_EMPTY");
        }

        var topic = await TopicFromQueryAsync(q).ConfigureAwait(false);
        long deferMs = 0;
        var deferText = q.Get("defer");
        if (deferText != null)
        {
            if (!long.TryParse(deferText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out deferMs) ||
                deferMs < 0 || deferMs > o.EffectiveMaxDeferTimeout.TotalMilliseconds)
            {
                throw new HttpError(400, "INVALID_DEFER");
            }
        }

        await PublishOrFail("PUB", topic.Name, topic.PublishAsync(body, deferMs)).ConfigureAwait(false);
        await HttpReplies.Text(ctx, "OK").ConfigureAwait(false);
    }

    private async Task MultiPublish(HttpContext ctx, GoQuery q)
    {
        var o = _server.Options;
        if (ctx.Request.ContentLength > o.MaxBodySize)
        {
            throw new HttpError(413, "BODY_TOO_BIG");
        }

        var topic = await TopicFromQueryAsync(q).ConfigureAwait(false);
        var binary = false;
        var binaryText = q.Get("binary");
        if (binaryText != null && !TryParseBoolParam(binaryText, out binary))
        {
            binary = true; // upstream: an unrecognized value means binary (deprecated)
        }

        var body = await ReadBodyAsync(ctx, o.MaxBodySize, "BODY_TOO_BIG").ConfigureAwait(false);
        List<ReadOnlyMemory<byte>> messages;
        if (binary)
        {
            var error = MultiPublishParser.Parse(body, o.MaxMsgSize, o.MaxBodySize, out messages);
            if (error != null)
            {
                throw new HttpError(413, error.Code[2..]);
            }
        }
        else
        {
            messages = [];
            var start = 0;
            for (var i = 0; i <= body.Length; i++)
            {
                if (i < body.Length && body[i] != (byte)'\n')
                {
                    continue;
                }

                var length = i - start;
                if (length > 0)
                {
                    if (length > o.MaxMsgSize)
                    {
                        throw new HttpError(413, "MSG_TOO_BIG");
                    }

                    messages.Add(body.AsMemory(start, length));
                }

                start = i + 1;
            }
        }

        if (messages.Count > 0)
        {
            await PublishOrFail("MPUB", topic.Name, topic.PublishBatchAsync(messages, 0)).ConfigureAwait(false);
        }

        await HttpReplies.Text(ctx, "OK").ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for the durable append. Shutting down is upstream's 503 EXITING; a failed disk write is a server
    /// error and says so: 500 {"message":"INTERNAL_ERROR","error":"PUB failed ..."} (upstream answers EXITING
    /// for both, which sends clients looking for a restart that is not happening).
    /// </summary>
    private async Task PublishOrFail(string command, string topic, ValueTask publish)
    {
        try
        {
            await publish.ConfigureAwait(false);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            throw new HttpError(503, "EXITING");
        }
        catch (IOException e)
        {
            _logger.LogError("HTTP: {Command} to topic {Topic} failed: {Error}", command, topic, e.Message);
            throw new HttpError(500, "INTERNAL_ERROR", $"{command} failed {e.Message}");
        }
    }

    /// <summary>Reads at most max bytes; one byte more means too big (upstream's LimitReader(max+1) trick).</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpContext ctx, long max, string tooBig)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await ctx.Request.Body.ReadAsync(chunk).ConfigureAwait(false);
            }
            catch (BadHttpRequestException)
            {
                throw new HttpError(413, tooBig); // Kestrel's own body limit: still this endpoint's error
            }

            if (read == 0)
            {
                return buffer.ToArray();
            }

            buffer.Write(chunk, 0, read);
            if (buffer.Length > max)
            {
                throw new HttpError(413, tooBig);
            }
        }
    }

    private async Task<Topic> TopicFromQueryAsync(GoQuery q, int? partitions = null)
    {
        var name = q.Get("topic") ?? throw new HttpError(400, "MISSING_ARG_TOPIC");
        if (!NsqNames.IsValidTopicName(name))
        {
            throw new HttpError(400, "INVALID_TOPIC");
        }

        try
        {
            return await _server.Broker.GetOrCreateTopicAsync(name, partitions ?? _server.Options.TopicPartitions).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            throw new HttpError(503, "EXITING");
        }
        catch (IOException)
        {
            throw new HttpError(500, "INTERNAL_ERROR");
        }
    }

    /// <summary>POST /topic/create?topic=T[&amp;partitions=P] (partitions: extension, 1..1024; default --topic-partitions).</summary>
    private async Task CreateTopic(HttpContext ctx, GoQuery q)
    {
        int? partitions = null;
        var text = q.Get("partitions");
        if (text != null)
        {
            if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) ||
                p < 1 || p > NsqdOptions.MaxPartitions)
            {
                throw new HttpError(400, "INVALID_ARG_PARTITIONS");
            }

            partitions = p;
        }

        var topic = await TopicFromQueryAsync(q, partitions).ConfigureAwait(false);
        if (partitions != null && topic.Partitions.Length != partitions)
        {
            // An existing topic keeps its partitions (changing them would move keys between partitions).
            throw new HttpError(409, "TOPIC_EXISTS_WITH_DIFFERENT_PARTITIONS");
        }

        await ReplyDurablyAsync(ctx).ConfigureAwait(false);
    }

    /// <summary>Operator actions answer once nsqd.json holds their effect (its writes are coalesced, so this is cheap).</summary>
    private async Task ReplyDurablyAsync(HttpContext ctx)
    {
        await _server.Broker.SaveMetadataAsync().ConfigureAwait(false);
        await HttpReplies.Empty(ctx).ConfigureAwait(false);
    }

    private async Task DeleteTopic(HttpContext ctx, GoQuery q)
    {
        var name = q.Get("topic") ?? throw new HttpError(400, "MISSING_ARG_TOPIC");
        if (!await _server.Broker.DeleteTopicAsync(name).ConfigureAwait(false))
        {
            throw new HttpError(404, "TOPIC_NOT_FOUND");
        }

        await ReplyDurablyAsync(ctx).ConfigureAwait(false);
    }

    /// <summary>Upstream validates the name only for /topic/empty; pause/unpause just look the topic up (404).</summary>
    private Task WithExistingTopic(HttpContext ctx, GoQuery q, bool validateName, Action<Topic> action)
    {
        var name = q.Get("topic") ?? throw new HttpError(400, "MISSING_ARG_TOPIC");
        if (validateName && !NsqNames.IsValidTopicName(name))
        {
            throw new HttpError(400, "INVALID_TOPIC");
        }

        if (!_server.Broker.TryGetTopic(name, out var topic))
        {
            throw new HttpError(404, "TOPIC_NOT_FOUND");
        }

        action(topic);
        return ReplyDurablyAsync(ctx);
    }

    private (Topic Topic, string Channel) ExistingTopicAndChannelArg(GoQuery q)
    {
        var topicName = q.Get("topic") ?? throw new HttpError(400, "MISSING_ARG_TOPIC");
        if (!NsqNames.IsValidTopicName(topicName))
        {
            throw new HttpError(400, "INVALID_ARG_TOPIC");
        }

        var channelName = q.Get("channel") ?? throw new HttpError(400, "MISSING_ARG_CHANNEL");
        if (!NsqNames.IsValidChannelName(channelName))
        {
            throw new HttpError(400, "INVALID_ARG_CHANNEL");
        }

        if (!_server.Broker.TryGetTopic(topicName, out var topic))
        {
            throw new HttpError(404, "TOPIC_NOT_FOUND");
        }

        return (topic, channelName);
    }

    private Task CreateChannel(HttpContext ctx, GoQuery q)
    {
        var (topic, channel) = ExistingTopicAndChannelArg(q);
        if (topic.TryGetOrCreateChannel(channel) == null)
        {
            throw new HttpError(404, "TOPIC_NOT_FOUND"); // deleted while we looked it up
        }

        return ReplyDurablyAsync(ctx);
    }

    private async Task DeleteChannel(HttpContext ctx, GoQuery q)
    {
        var (topic, channel) = ExistingTopicAndChannelArg(q);
        if (!await topic.DeleteChannelAsync(channel).ConfigureAwait(false))
        {
            throw new HttpError(404, "CHANNEL_NOT_FOUND");
        }

        await ReplyDurablyAsync(ctx).ConfigureAwait(false);
    }

    private Task WithExistingChannel(HttpContext ctx, GoQuery q, Action<Broker.Channel> action)
    {
        var (topic, name) = ExistingTopicAndChannelArg(q);
        if (!topic.TryGetChannel(name, out var channel))
        {
            throw new HttpError(404, "CHANNEL_NOT_FOUND");
        }

        action(channel);
        return ReplyDurablyAsync(ctx);
    }

    /// <summary>Replay: POST /channel/seek?topic=&amp;channel=&amp;to=oldest|newest|offset|timestamp[&amp;value=N].</summary>
    private Task Seek(HttpContext ctx, GoQuery q)
    {
        // Topic and channel arguments are checked first, as for every other /channel/* endpoint.
        var (topic, name) = ExistingTopicAndChannelArg(q);
        var to = q.Get("to") ?? throw new HttpError(400, "MISSING_ARG_TO");
        long value = 0;
        if (to is "offset" or "timestamp")
        {
            var text = q.Get("value") ?? throw new HttpError(400, "MISSING_ARG_VALUE");
            if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value))
            {
                throw new HttpError(400, "INVALID_ARG_VALUE");
            }
        }

        var position = to switch
        {
            "oldest" => StartPosition.Oldest,
            "newest" => StartPosition.Newest,
            "offset" => new StartPosition(StartPositionKind.Offset, value),
            "timestamp" => new StartPosition(StartPositionKind.Timestamp, value),
            _ => throw new HttpError(400, "INVALID_ARG_TO"),
        };
        int? partition = null;
        var partitionText = q.Get("partition");
        if (partitionText != null)
        {
            if (!int.TryParse(partitionText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p))
            {
                throw new HttpError(400, "INVALID_ARG_PARTITION");
            }

            if (!topic.TryGetPartition(p, out _))
            {
                throw new HttpError(404, "PARTITION_NOT_FOUND");
            }

            partition = p;
        }

        if (!topic.TryGetChannel(name, out var channel))
        {
            throw new HttpError(404, "CHANNEL_NOT_FOUND");
        }

        channel.MoveTo(position, partition);
        return HttpReplies.Empty(ctx);
    }

    private async Task Stats(HttpContext ctx, GoQuery q)
    {
        var format = q.Get("format") ?? "text";
        var topic = q.Get("topic");
        var channel = q.Get("channel");
        var filter = new StatsFilter(string.IsNullOrEmpty(topic) ? null : topic, string.IsNullOrEmpty(channel) ? null : channel,
            IncludeClients: !TryParseBoolParam(q.Get("include_clients") ?? "", out var clients) || clients,
            IncludeMemory: !TryParseBoolParam(q.Get("include_mem") ?? "", out var mem) || mem);
        var snapshot = StatsSnapshot.Take(_server, filter);
        if (format == "json")
        {
            await HttpReplies.Json(ctx, StatsJson.Write(snapshot)).ConfigureAwait(false);
        }
        else
        {
            await HttpReplies.Text(ctx, StatsText.Write(snapshot)).ConfigureAwait(false);
        }
    }

    private Task Metrics(HttpContext ctx, GoQuery q) =>
        HttpReplies.Bytes(ctx, Common.Metrics.PrometheusExporter.ContentType, _server.Metrics.Scrape());

    private async Task Config(HttpContext ctx, string option)
    {
        var o = _server.Options;
        if (ctx.Request.Method == "PUT")
        {
            var body = await ReadBodyAsync(ctx, o.MaxMsgSize, "INVALID_VALUE").ConfigureAwait(false);
            if (body.Length == 0)
            {
                throw new HttpError(413, "INVALID_VALUE");
            }

            switch (option)
            {
                case "nsqlookupd_tcp_addresses":
                    List<string>? addresses;
                    try
                    {
                        addresses = JsonSerializer.Deserialize<List<string>>(body);
                    }
                    catch (JsonException)
                    {
                        throw new HttpError(400, "INVALID_VALUE");
                    }

                    o.LookupdTcpAddresses = addresses ?? [];
                    _server.StartLookup(o.LookupdTcpAddresses);
                    break;
                case "log_level":
                    var level = System.Text.Encoding.UTF8.GetString(body).Trim();
                    if (_server.SetLogLevel == null || !_server.SetLogLevel(level))
                    {
                        throw new HttpError(400, "INVALID_VALUE");
                    }

                    o.LogLevel = level.ToLowerInvariant();
                    break;
                default:
                    throw new HttpError(400, "INVALID_OPTION");
            }
        }
        else if (ctx.Request.Method != "GET")
        {
            throw new HttpError(405, "METHOD_NOT_ALLOWED");
        }

        var value = ConfigValues.Get(o, option) ?? throw new HttpError(400, "INVALID_OPTION");
        await HttpReplies.Json(ctx, value).ConfigureAwait(false);
    }

    /// <summary>Upstream http.go boolParams: only "true", "1", "false" and "0" are understood.</summary>
    internal static bool TryParseBoolParam(string text, out bool value)
    {
        switch (text)
        {
            case "true" or "1":
                value = true;
                return true;
            case "false" or "0":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }
}
