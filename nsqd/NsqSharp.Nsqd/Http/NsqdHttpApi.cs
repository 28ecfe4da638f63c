using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Cluster;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Nsqd.Http;

/// <summary>
/// The nsqd HTTP API with upstream's routes, status codes and messages (nsqd/http.go), plus
/// /metrics (Prometheus text) and /channel/seek (replay, see docs/PROTOCOL.md).
/// </summary>
internal sealed class NsqdHttpApi
{
    private readonly NsqdServer _server;
    private readonly ILogger _logger;
    private readonly HttpRouter _router;

    public NsqdHttpApi(NsqdServer server, ILogger logger)
    {
        _server = server;
        _logger = logger;
        _router = new HttpRouter(logger)
        {
            // Kestrel's own request-body limit, met outside a body read of ours.
            MapException = e => e is BadHttpRequestException ? ApiResult.Error(413, "MSG_TOO_BIG") : null,
        };
        var r = _router;
        r.Handle("GET", "/ping", Ping);
        r.Handle("GET", "/info", Info);
        // Upstream decorates /pub and /mpub without http_api.Log: publishes are not logged one by one.
        r.Handle("POST", "/pub", Publish, log: false);
        r.Handle("POST", "/mpub", MultiPublish, log: false);
        r.Handle("GET", "/stats", Stats);
        r.Handle("GET", "/metrics", Metrics);
        r.Handle("POST", "/topic/create", CreateTopic);
        r.Handle("POST", "/topic/delete", DeleteTopic);
        r.Handle("POST", "/topic/empty", req => WithExistingTopic(req, validateName: true, t => t.Empty()));
        r.Handle("POST", "/topic/pause", req => WithExistingTopic(req, validateName: false, t => t.Pause()));
        r.Handle("POST", "/topic/unpause", req => WithExistingTopic(req, validateName: false, t => t.Unpause()));
        r.Handle("POST", "/channel/create", CreateChannel);
        r.Handle("POST", "/channel/delete", DeleteChannel);
        r.Handle("POST", "/channel/empty", req => WithExistingChannel(req, ch => ch.Empty()));
        r.Handle("POST", "/channel/pause", req => WithExistingChannel(req, ch => ch.Pause()));
        r.Handle("POST", "/channel/unpause", req => WithExistingChannel(req, ch => ch.Unpause()));
        r.Handle("POST", "/channel/seek", Seek);
        r.Handle("GET", "/config/:opt", Config);
        r.Handle("PUT", "/config/:opt", Config);
        r.Handle("POST", "/debug/freememory", FreeMemory);
    }

    /// <summary>Port of the HTTPS listener, reported when plain HTTP is refused (--tls-required).</summary>
    public int HttpsPort { get; set; }

    public Task HandleAsync(HttpContext ctx)
    {
        if (_server.Options.HttpTlsRequired && !ctx.Request.IsHttps)
        {
            // Upstream's ServeHTTP writes this before routing, byte for byte.
            var json = System.Text.Encoding.UTF8.GetBytes($"{{\"message\": \"TLS_REQUIRED\", \"https_port\": {HttpsPort}}}");
            return ApiResult.Json(json, 403).WriteAsync(ctx.Response);
        }

        return _router.DispatchAsync(ctx);
    }

    /// <summary>The query as Go's url.ParseQuery reads it, parsed where upstream's handler parses it.</summary>
    private static GoQuery Query(HttpRequest request) =>
        GoQuery.TryParse(request.QueryString.Value, out var query) ? query : throw new ApiException(400, "INVALID_REQUEST");

    /// <summary>Upstream decorates /ping with PlainText: "OK" or 500 "NOK - error", no NSQ header.</summary>
    private ValueTask<ApiResult> Ping(HttpRequest request)
    {
        var health = _server.Broker.Health;
        return ValueTask.FromResult(health == null ? ApiResult.PlainText("OK") : ApiResult.PlainText("NOK - " + health, 500));
    }

    /// <summary>Upstream's POST /debug/freememory (debug.FreeOSMemory): a full, compacting GC that gives free memory back to the OS.</summary>
    private static ValueTask<ApiResult> FreeMemory(HttpRequest request)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return ValueTask.FromResult(ApiResult.Empty);
    }

    private ValueTask<ApiResult> Info(HttpRequest request)
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

        return ValueTask.FromResult(ApiResult.Json(stream.ToArray()));
    }

    private async ValueTask<ApiResult> Publish(HttpRequest request)
    {
        var o = _server.Options;
        if (request.ContentLength > o.MaxMsgSize)
        {
            throw new ApiException(413, "MSG_TOO_BIG");
        }

        var body = await ReadBodyAsync(request, o.MaxMsgSize, "MSG_TOO_BIG").ConfigureAwait(false);
        if (body.Length == 0)
        {
            throw new ApiException(400, "MSG_EMPTY");
        }

        var q = Query(request);
        var topic = _server.Cluster is null ? await TopicFromQueryAsync(q).ConfigureAwait(false) : null;
        var topicName = topic?.Name ?? TopicNameFromQuery(q);
        long deferMs = 0;
        var deferText = q.Get("defer");
        if (deferText != null)
        {
            if (!long.TryParse(deferText, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out deferMs) ||
                deferMs < 0 || deferMs > o.EffectiveMaxDeferTimeout.TotalMilliseconds)
            {
                throw new ApiException(400, "INVALID_DEFER");
            }
        }

        var publish = topic is null
            ? ClusterPublisher.PublishAsync(_server, _server.Cluster!, new ForwardedPublish(topicName, [body], Multiple: false, deferMs), t => t.PublishAsync(body, deferMs), fromForwarder: false, CancellationToken.None)
            : topic.PublishAsync(body, deferMs);
        await PublishOrFail("PUB", topicName, publish).ConfigureAwait(false);
        return ApiResult.Text("OK");
    }

    private async ValueTask<ApiResult> MultiPublish(HttpRequest request)
    {
        var o = _server.Options;
        if (request.ContentLength > o.MaxBodySize)
        {
            throw new ApiException(413, "BODY_TOO_BIG");
        }

        var q = Query(request);
        var topic = _server.Cluster is null ? await TopicFromQueryAsync(q).ConfigureAwait(false) : null;
        var topicName = topic?.Name ?? TopicNameFromQuery(q);
        var binary = false;
        var binaryText = q.Get("binary");
        if (binaryText != null && !TryParseBoolParam(binaryText, out binary))
        {
            binary = true; // upstream: an unrecognized value means binary (deprecated)
        }

        var body = await ReadBodyAsync(request, o.MaxBodySize, "BODY_TOO_BIG").ConfigureAwait(false);
        List<ReadOnlyMemory<byte>> messages;
        if (binary)
        {
            var error = MultiPublishParser.Parse(body, o.MaxMsgSize, o.MaxBodySize, out messages);
            if (error != null)
            {
                throw new ApiException(413, error.Code[2..]);
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
                        throw new ApiException(413, "MSG_TOO_BIG");
                    }

                    messages.Add(body.AsMemory(start, length));
                }

                start = i + 1;
            }
        }

        if (messages.Count > 0)
        {
            var publish = topic is null
                ? ClusterPublisher.PublishAsync(_server, _server.Cluster!, new ForwardedPublish(topicName, messages, Multiple: true, 0), t => t.PublishBatchAsync(messages, 0), fromForwarder: false, CancellationToken.None)
                : topic.PublishBatchAsync(messages, 0);
            await PublishOrFail("MPUB", topicName, publish).ConfigureAwait(false);
        }

        return ApiResult.Text("OK");
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
        catch (Exception e) when (ClusterProtocol.ErrorFor(e) is { } cluster)
        {
            // Cluster mode: 503 with the TCP code without its E_ (as MPUB's body errors), the reason in "error".
            throw new ApiException(503, cluster.Code[2..], $"{command} failed {cluster.Message}");
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            throw new ApiException(503, "EXITING");
        }
        catch (IOException e)
        {
            _logger.LogError("HTTP: {Command} to topic {Topic} failed: {Error}", command, topic, e.Message);
            throw new ApiException(500, "INTERNAL_ERROR", $"{command} failed {e.Message}");
        }
    }

    /// <summary>Reads at most max bytes; one byte more means too big (upstream's LimitReader(max+1) trick).</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, long max, string tooBig)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await request.Body.ReadAsync(chunk).ConfigureAwait(false);
            }
            catch (BadHttpRequestException)
            {
                throw new ApiException(413, tooBig); // Kestrel's own body limit: still this endpoint's error
            }

            if (read == 0)
            {
                return buffer.ToArray();
            }

            buffer.Write(chunk, 0, read);
            if (buffer.Length > max)
            {
                throw new ApiException(413, tooBig);
            }
        }
    }

    private static string TopicNameFromQuery(GoQuery q)
    {
        var name = q.Get("topic") ?? throw new ApiException(400, "MISSING_ARG_TOPIC");
        if (!NsqNames.IsValidTopicName(name))
        {
            throw new ApiException(400, "INVALID_TOPIC");
        }

        return name;
    }

    private async Task<Topic> TopicFromQueryAsync(GoQuery q, int? partitions = null)
    {
        var name = TopicNameFromQuery(q);

        try
        {
            return await _server.Broker.GetOrCreateTopicAsync(name, partitions ?? _server.Options.TopicPartitions).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            throw new ApiException(503, "EXITING");
        }
        catch (IOException)
        {
            throw new ApiException(500, "INTERNAL_ERROR");
        }
    }

    /// <summary>POST /topic/create?topic=T[&amp;partitions=P] (partitions: extension, 1..1024; default --topic-partitions).</summary>
    private async ValueTask<ApiResult> CreateTopic(HttpRequest request)
    {
        var q = Query(request);
        int? partitions = null;
        var text = q.Get("partitions");
        if (text != null)
        {
            if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p) ||
                p < 1 || p > NsqdOptions.MaxPartitions)
            {
                throw new ApiException(400, "INVALID_ARG_PARTITIONS");
            }

            partitions = p;
        }

        var topic = await TopicFromQueryAsync(q, partitions).ConfigureAwait(false);
        if (partitions != null && topic.Partitions.Length != partitions)
        {
            // An existing topic keeps its partitions (changing them would move keys between partitions).
            throw new ApiException(409, "TOPIC_EXISTS_WITH_DIFFERENT_PARTITIONS");
        }

        return await ReplyDurablyAsync().ConfigureAwait(false);
    }

    /// <summary>Operator actions answer once nsqd.json holds their effect (its writes are coalesced, so this is cheap).</summary>
    private async ValueTask<ApiResult> ReplyDurablyAsync()
    {
        await _server.Broker.SaveMetadataAsync().ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> DeleteTopic(HttpRequest request)
    {
        var name = Query(request).Get("topic") ?? throw new ApiException(400, "MISSING_ARG_TOPIC");
        if (!await _server.Broker.DeleteTopicAsync(name).ConfigureAwait(false))
        {
            throw new ApiException(404, "TOPIC_NOT_FOUND");
        }

        return await ReplyDurablyAsync().ConfigureAwait(false);
    }

    /// <summary>Upstream validates the name only for /topic/empty; pause/unpause just look the topic up (404).</summary>
    private ValueTask<ApiResult> WithExistingTopic(HttpRequest request, bool validateName, Action<Topic> action)
    {
        var name = Query(request).Get("topic") ?? throw new ApiException(400, "MISSING_ARG_TOPIC");
        if (validateName && !NsqNames.IsValidTopicName(name))
        {
            throw new ApiException(400, "INVALID_TOPIC");
        }

        if (!_server.Broker.TryGetTopic(name, out var topic))
        {
            throw new ApiException(404, "TOPIC_NOT_FOUND");
        }

        action(topic);
        return ReplyDurablyAsync();
    }

    private (Topic Topic, string Channel) ExistingTopicAndChannelArg(GoQuery q)
    {
        var topicName = q.Get("topic") ?? throw new ApiException(400, "MISSING_ARG_TOPIC");
        if (!NsqNames.IsValidTopicName(topicName))
        {
            throw new ApiException(400, "INVALID_ARG_TOPIC");
        }

        var channelName = q.Get("channel") ?? throw new ApiException(400, "MISSING_ARG_CHANNEL");
        if (!NsqNames.IsValidChannelName(channelName))
        {
            throw new ApiException(400, "INVALID_ARG_CHANNEL");
        }

        if (!_server.Broker.TryGetTopic(topicName, out var topic))
        {
            throw new ApiException(404, "TOPIC_NOT_FOUND");
        }

        return (topic, channelName);
    }

    private ValueTask<ApiResult> CreateChannel(HttpRequest request)
    {
        var (topic, channel) = ExistingTopicAndChannelArg(Query(request));
        if (topic.TryGetOrCreateChannel(channel) == null)
        {
            throw new ApiException(404, "TOPIC_NOT_FOUND"); // deleted while we looked it up
        }

        return ReplyDurablyAsync();
    }

    private async ValueTask<ApiResult> DeleteChannel(HttpRequest request)
    {
        var (topic, channel) = ExistingTopicAndChannelArg(Query(request));
        if (!await topic.DeleteChannelAsync(channel).ConfigureAwait(false))
        {
            throw new ApiException(404, "CHANNEL_NOT_FOUND");
        }

        return await ReplyDurablyAsync().ConfigureAwait(false);
    }

    private ValueTask<ApiResult> WithExistingChannel(HttpRequest request, Action<Broker.Channel> action)
    {
        var (topic, name) = ExistingTopicAndChannelArg(Query(request));
        if (!topic.TryGetChannel(name, out var channel))
        {
            throw new ApiException(404, "CHANNEL_NOT_FOUND");
        }

        action(channel);
        return ReplyDurablyAsync();
    }

    /// <summary>Replay: POST /channel/seek?topic=&amp;channel=&amp;to=oldest|newest|offset|timestamp[&amp;value=N].</summary>
    private ValueTask<ApiResult> Seek(HttpRequest request)
    {
        // Topic and channel arguments are checked first, as for every other /channel/* endpoint.
        var q = Query(request);
        var (topic, name) = ExistingTopicAndChannelArg(q);
        var to = q.Get("to") ?? throw new ApiException(400, "MISSING_ARG_TO");
        long value = 0;
        if (to is "offset" or "timestamp")
        {
            var text = q.Get("value") ?? throw new ApiException(400, "MISSING_ARG_VALUE");
            if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value))
            {
                throw new ApiException(400, "INVALID_ARG_VALUE");
            }
        }

        var position = to switch
        {
            "oldest" => StartPosition.Oldest,
            "newest" => StartPosition.Newest,
            "offset" => new StartPosition(StartPositionKind.Offset, value),
            "timestamp" => new StartPosition(StartPositionKind.Timestamp, value),
            _ => throw new ApiException(400, "INVALID_ARG_TO"),
        };
        int? partition = null;
        var partitionText = q.Get("partition");
        if (partitionText != null)
        {
            if (!int.TryParse(partitionText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var p))
            {
                throw new ApiException(400, "INVALID_ARG_PARTITION");
            }

            if (!topic.TryGetPartition(p, out _))
            {
                throw new ApiException(404, "PARTITION_NOT_FOUND");
            }

            partition = p;
        }

        if (!topic.TryGetChannel(name, out var channel))
        {
            throw new ApiException(404, "CHANNEL_NOT_FOUND");
        }

        channel.MoveTo(position, partition);
        return ValueTask.FromResult(ApiResult.Empty);
    }

    private ValueTask<ApiResult> Stats(HttpRequest request)
    {
        var q = Query(request);
        var format = q.Get("format") ?? "text";
        var topic = q.Get("topic");
        var channel = q.Get("channel");
        var filter = new StatsFilter(string.IsNullOrEmpty(topic) ? null : topic, string.IsNullOrEmpty(channel) ? null : channel,
            IncludeClients: !TryParseBoolParam(q.Get("include_clients") ?? "", out var clients) || clients,
            IncludeMemory: !TryParseBoolParam(q.Get("include_mem") ?? "", out var mem) || mem);
        var snapshot = StatsSnapshot.Take(_server, filter);
        return ValueTask.FromResult(format == "json" ? ApiResult.Json(StatsJson.Write(snapshot)) : ApiResult.Text(StatsText.Write(snapshot)));
    }

    private ValueTask<ApiResult> Metrics(HttpRequest request) =>
        ValueTask.FromResult(ApiResult.Bytes(Common.Metrics.PrometheusExporter.ContentType, System.Text.Encoding.UTF8.GetBytes(_server.Metrics.Scrape())));

    /// <summary>GET and PUT /config/:opt (upstream doConfig: no query parsing).</summary>
    private async ValueTask<ApiResult> Config(HttpRequest request)
    {
        var option = (string)request.RouteValues["opt"]!;
        var o = _server.Options;
        if (request.Method == "PUT")
        {
            var body = await ReadBodyAsync(request, o.MaxMsgSize, "INVALID_VALUE").ConfigureAwait(false);
            if (body.Length == 0)
            {
                throw new ApiException(413, "INVALID_VALUE");
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
                        throw new ApiException(400, "INVALID_VALUE");
                    }

                    o.LookupdTcpAddresses = addresses ?? [];
                    _server.StartLookup(o.LookupdTcpAddresses);
                    break;
                case "log_level":
                    var level = System.Text.Encoding.UTF8.GetString(body).Trim();
                    if (_server.SetLogLevel == null || !_server.SetLogLevel(level))
                    {
                        throw new ApiException(400, "INVALID_VALUE");
                    }

                    o.LogLevel = level.ToLowerInvariant();
                    break;
                default:
                    throw new ApiException(400, "INVALID_OPTION");
            }
        }

        var value = ConfigValues.Get(o, option) ?? throw new ApiException(400, "INVALID_OPTION");
        return ApiResult.Json(value);
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
