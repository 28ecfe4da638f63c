using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Http;

/// <summary>
/// nsqlookupd's HTTP API (upstream nsqlookupd/http.go, V1 responses): discovery for consumers
/// (/lookup, /topics, /channels, /nodes) and administration for nsqadmin and operators.
/// JSON objects keep Go's key order (map keys sorted, struct fields in declaration order).
/// </summary>
internal sealed class LookupHttpApi(ILookupRegistry registry, ILogger logger)
{
    /// <summary>Go's time.Time{}.UnixNano(), what upstream reports as tombstoned_at for a live producer.</summary>
    private const long GoZeroTimeUnixNanos = -6795364578871345152;

    public void MapRoutes(HttpRouter router)
    {
        router.Handle("GET", "/ping", _ => new ValueTask<ApiResult>(ApiResult.PlainText("OK")));
        router.Handle("GET", "/info", r => new ValueTask<ApiResult>(Info(r)));
        router.Handle("GET", "/debug", Debug);
        router.Handle("GET", "/lookup", Lookup);
        router.Handle("GET", "/topics", Topics);
        router.Handle("GET", "/channels", Channels);
        router.Handle("GET", "/nodes", Nodes);
        router.Handle("POST", "/topic/create", CreateTopic);
        router.Handle("POST", "/topic/delete", DeleteTopic);
        router.Handle("POST", "/channel/create", CreateChannel);
        router.Handle("POST", "/channel/delete", DeleteChannel);
        router.Handle("POST", "/topic/tombstone", TombstoneTopicProducer);
    }

    private static ApiResult Info(HttpRequest request) =>
        ApiResult.Json(json =>
        {
            json.WriteStartObject();
            json.WriteString("version", ProtocolConstants.CompatibleVersion);
            json.WriteEndObject();
        });

    private async ValueTask<ApiResult> Topics(HttpRequest request)
    {
        var topics = await registry.GetTopicsAsync().ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            WriteStrings(json, "topics", topics);
            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> Channels(HttpRequest request)
    {
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } topic)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        var channels = await registry.GetChannelsAsync(topic).ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            WriteStrings(json, "channels", channels);
            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> Lookup(HttpRequest request)
    {
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } topic)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        if (!await registry.TopicExistsAsync(topic).ConfigureAwait(false))
        {
            return ApiResult.Error(404, "TOPIC_NOT_FOUND");
        }

        var channels = await registry.GetChannelsAsync(topic).ConfigureAwait(false);
        var producers = await registry.GetActiveProducersAsync(topic).ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            WriteStrings(json, "channels", channels);
            json.WriteStartArray("producers");
            foreach (var peer in producers)
            {
                json.WriteStartObject();
                WritePeerFields(json, peer);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> Nodes(HttpRequest request)
    {
        var nodes = await registry.GetNodesAsync().ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("producers");
            foreach (var node in nodes)
            {
                json.WriteStartObject();
                WritePeerFields(json, node.Peer);
                json.WriteStartArray("tombstones");
                foreach (var tombstoned in node.Tombstones)
                {
                    json.WriteBooleanValue(tombstoned);
                }

                json.WriteEndArray();
                WriteStrings(json, "topics", node.Topics);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> Debug(HttpRequest request)
    {
        var entries = await registry.GetDebugEntriesAsync().ConfigureAwait(false);
        var byKey = new SortedDictionary<string, List<DebugEntry>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var key = entry.Key.ToString();
            if (!byKey.TryGetValue(key, out var list))
            {
                list = [];
                byKey.Add(key, list);
            }

            list.Add(entry);
        }

        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            foreach (var (key, list) in byKey)
            {
                json.WriteStartArray(key);
                foreach (var entry in list)
                {
                    var peer = entry.Peer;
                    json.WriteStartObject(); // a Go map: keys sorted
                    json.WriteString("broadcast_address", peer.BroadcastAddress);
                    json.WriteString("hostname", peer.Hostname);
                    json.WriteNumber("http_port", peer.HttpPort);
                    json.WriteString("id", peer.Id);
                    json.WriteNumber("last_update", peer.LastUpdateUnixNanos);
                    json.WriteNumber("tcp_port", peer.TcpPort);
                    json.WriteBoolean("tombstoned", entry.Tombstoned);
                    json.WriteNumber("tombstoned_at", entry.TombstonedAtUnixNanos ?? GoZeroTimeUnixNanos);
                    json.WriteString("topology_region", peer.TopologyRegion);
                    json.WriteString("topology_zone", peer.TopologyZone);
                    json.WriteString("version", peer.Version);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> CreateTopic(HttpRequest request)
    {
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } topic)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return ApiResult.Error(400, "INVALID_ARG_TOPIC");
        }

        logger.LogInformation("DB: adding topic({Topic})", topic);
        await registry.CreateTopicAsync(topic).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> DeleteTopic(HttpRequest request)
    {
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } topic)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        logger.LogInformation("DB: removing topic({Topic}) and its channels", topic);
        await registry.DeleteTopicAsync(topic).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> CreateChannel(HttpRequest request)
    {
        if (TopicChannelArgs(request, out var topic, out var channel) is { } error)
        {
            return error;
        }

        logger.LogInformation("DB: adding channel({Channel}) in topic({Topic})", channel, topic);
        await registry.CreateChannelAsync(topic, channel).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> DeleteChannel(HttpRequest request)
    {
        if (TopicChannelArgs(request, out var topic, out var channel) is { } error)
        {
            return error;
        }

        if (!await registry.DeleteChannelAsync(topic, channel).ConfigureAwait(false))
        {
            return ApiResult.Error(404, "CHANNEL_NOT_FOUND");
        }

        logger.LogInformation("DB: removed channel({Channel}) from topic({Topic})", channel, topic);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> TombstoneTopicProducer(HttpRequest request)
    {
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } topic)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        if (query.Get("node") is not { } node)
        {
            return ApiResult.Error(400, "MISSING_ARG_NODE");
        }

        logger.LogInformation("DB: setting tombstone for producer@{Node} of topic({Topic})", node, topic);
        await registry.TombstoneTopicProducerAsync(topic, node).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private static ApiResult InvalidRequest => ApiResult.Error(400, "INVALID_REQUEST");

    /// <summary>Upstream http_api.GetTopicChannelArgs.</summary>
    private static ApiResult? TopicChannelArgs(HttpRequest request, out string topic, out string channel)
    {
        topic = "";
        channel = "";
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } t)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        if (!NsqNames.IsValidTopicName(t))
        {
            return ApiResult.Error(400, "INVALID_ARG_TOPIC");
        }

        if (query.Get("channel") is not { } c)
        {
            return ApiResult.Error(400, "MISSING_ARG_CHANNEL");
        }

        if (!NsqNames.IsValidChannelName(c))
        {
            return ApiResult.Error(400, "INVALID_ARG_CHANNEL");
        }

        (topic, channel) = (t, c);
        return null;
    }

    /// <summary>Upstream PeerInfo's JSON fields, in struct order.</summary>
    private static void WritePeerFields(Utf8JsonWriter json, PeerInfo peer)
    {
        json.WriteString("remote_address", peer.RemoteAddress);
        json.WriteString("hostname", peer.Hostname);
        json.WriteString("broadcast_address", peer.BroadcastAddress);
        json.WriteNumber("tcp_port", peer.TcpPort);
        json.WriteNumber("http_port", peer.HttpPort);
        json.WriteString("version", peer.Version);
        json.WriteString("topology_zone", peer.TopologyZone);
        json.WriteString("topology_region", peer.TopologyRegion);
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IReadOnlyList<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
