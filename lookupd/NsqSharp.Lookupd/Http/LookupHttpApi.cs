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

    /// <param name="router">Where the routes go.</param>
    /// <param name="replaced">Handlers that take a route's place, keyed "METHOD /path" (cluster mode's); standalone none.</param>
    public void MapRoutes(HttpRouter router, IReadOnlyDictionary<string, ApiHandler>? replaced = null)
    {
        void Map(string method, string path, ApiHandler handler) =>
            router.Handle(method, path, replaced?.GetValueOrDefault(method + " " + path) ?? handler);

        Map("GET", "/ping", _ => new ValueTask<ApiResult>(ApiResult.PlainText("OK")));
        Map("GET", "/info", r => new ValueTask<ApiResult>(Info(r)));
        Map("GET", "/debug", Debug);
        Map("GET", "/lookup", Lookup);
        Map("GET", "/topics", Topics);
        Map("GET", "/channels", Channels);
        Map("GET", "/nodes", Nodes);
        Map("POST", "/topic/create", CreateTopic);
        Map("POST", "/topic/delete", DeleteTopic);
        Map("POST", "/channel/create", CreateChannel);
        Map("POST", "/channel/delete", DeleteChannel);
        Map("POST", "/topic/tombstone", TombstoneTopicProducer);
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
            LookupJson.WriteStrings(json, "topics", topics);
            json.WriteEndObject();
        });
    }

    private async ValueTask<ApiResult> Channels(HttpRequest request)
    {
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        var channels = await registry.GetChannelsAsync(topic).ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            LookupJson.WriteStrings(json, "channels", channels);
            json.WriteEndObject();
        });
    }

    /// <summary>Upstream's /lookup from the registry (cluster mode's answer for a topic the cluster does not have).</summary>
    internal async ValueTask<ApiResult> Lookup(HttpRequest request)
    {
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
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
            LookupJson.WriteStrings(json, "channels", channels);
            json.WriteStartArray("producers");
            foreach (var peer in producers)
            {
                json.WriteStartObject();
                LookupJson.WritePeerFields(json, peer);
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
                LookupJson.WritePeerFields(json, node.Peer);
                json.WriteStartArray("tombstones");
                foreach (var tombstoned in node.Tombstones)
                {
                    json.WriteBooleanValue(tombstoned);
                }

                json.WriteEndArray();
                LookupJson.WriteStrings(json, "topics", node.Topics);
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
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
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
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        logger.LogInformation("DB: removing topic({Topic}) and its channels", topic);
        await registry.DeleteTopicAsync(topic).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> CreateChannel(HttpRequest request)
    {
        if (LookupArgs.TopicChannel(request, out var topic, out var channel) is { } error)
        {
            return error;
        }

        logger.LogInformation("DB: adding channel({Channel}) in topic({Topic})", channel, topic);
        await registry.CreateChannelAsync(topic, channel).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    private async ValueTask<ApiResult> DeleteChannel(HttpRequest request)
    {
        if (LookupArgs.TopicChannel(request, out var topic, out var channel) is { } error)
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
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        if (query.Get("node") is not { } node)
        {
            return ApiResult.Error(400, "MISSING_ARG_NODE");
        }

        logger.LogInformation("DB: setting tombstone for producer@{Node} of topic({Topic})", node, topic);
        await registry.TombstoneTopicProducerAsync(topic, node).ConfigureAwait(false);
        return ApiResult.Empty;
    }
}
