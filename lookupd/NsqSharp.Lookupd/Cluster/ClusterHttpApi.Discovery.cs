using System.Globalization;
using Microsoft.AspNetCore.Http;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Http;
using NsqSharp.Lookupd.Http;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>
/// Discovery in cluster mode, from this instance's view (no etcd call, so it answers while etcd is away, from the
/// last state seen). A cluster topic's producers are the live nodes leading at least one of its partitions: a
/// consumer connects to each leader and so reads every partition. Topics only the registry knows answer as
/// standalone.
/// </summary>
internal sealed partial class ClusterHttpApi
{
    /// <summary>GET /lookup?topic=T: upstream's shape, each producer with its node_id, plus the topic's partitions.</summary>
    private async ValueTask<ApiResult> Lookup(HttpRequest request)
    {
        var view = cluster.View;
        if (!GoQuery.TryParse(request.QueryString.Value, out var query) || query.Get("topic") is not { } name ||
            !view.Topics.TryGetValue(name, out var topic) || topic.Config is null)
        {
            return await standalone.Lookup(request).ConfigureAwait(false);
        }

        var channels = await MergedChannelsAsync(topic.Name, view).ConfigureAwait(false);
        var peers = await registry.GetActivePeersAsync().ConfigureAwait(false);
        var leaders = topic.Partitions.Values
            .Select(p => p.State.Leader)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(id => view.Nodes.GetValueOrDefault(id))
            .OfType<NodeRegistration>()
            .ToList();
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            LookupJson.WriteStrings(json, "channels", channels);
            json.WriteStartArray("producers");
            foreach (var node in leaders)
            {
                json.WriteStartObject();
                LookupJson.WritePeerFields(json, ProducerOf(node, peers));
                json.WriteString("node_id", node.NodeId);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            ClusterJson.WritePartitions(json, "partitions", topic);
            json.WriteEndObject();
        });
    }

    /// <summary>GET /topics: the registry's and the cluster's.</summary>
    private async ValueTask<ApiResult> Topics(HttpRequest request)
    {
        var view = cluster.View;
        var topics = new SortedSet<string>(await registry.GetTopicsAsync().ConfigureAwait(false), StringComparer.Ordinal);
        topics.UnionWith(view.Topics.Values.Where(t => t.Config is not null).Select(t => t.Name));
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            LookupJson.WriteStrings(json, "topics", topics);
            json.WriteEndObject();
        });
    }

    /// <summary>GET /channels?topic=T: the registry's and the cluster's (nsqd asks it to pre-create a new topic's channels).</summary>
    private async ValueTask<ApiResult> Channels(HttpRequest request)
    {
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        var channels = await MergedChannelsAsync(topic, cluster.View).ConfigureAwait(false);
        return ApiResult.Json(json =>
        {
            json.WriteStartObject();
            LookupJson.WriteStrings(json, "channels", channels);
            json.WriteEndObject();
        });
    }

    /// <summary>GET /nodes: upstream's (the registry's TCP peers), with node_id on each peer that is a cluster node.</summary>
    private async ValueTask<ApiResult> Nodes(HttpRequest request)
    {
        var view = cluster.View;
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
                if (NodeIdOf(node.Peer, view) is { } nodeId)
                {
                    json.WriteString("node_id", nodeId);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private async Task<SortedSet<string>> MergedChannelsAsync(string topic, ClusterView view)
    {
        var channels = new SortedSet<string>(await registry.GetChannelsAsync(topic).ConfigureAwait(false), StringComparer.Ordinal);
        if (view.Topics.TryGetValue(topic, out var clusterTopic))
        {
            channels.UnionWith(clusterTopic.Channels.Keys);
        }

        return channels;
    }

    /// <summary>A cluster node and an nsqd connected over TCP are the same node when they announce the same address and TCP port.</summary>
    private static bool IsSameNode(NodeRegistration node, PeerInfo peer) =>
        peer.TcpPort == node.TcpPort && string.Equals(peer.BroadcastAddress, node.BroadcastAddress, StringComparison.OrdinalIgnoreCase);

    private static string? NodeIdOf(PeerInfo peer, ClusterView view)
    {
        foreach (var node in view.Nodes.Values)
        {
            if (IsSameNode(node, peer))
            {
                return node.NodeId;
            }
        }

        return null;
    }

    /// <summary>
    /// A leader as an upstream producer entry: addresses, ports and version from its cluster registration; remote
    /// address, hostname and topology from its TCP registration here when it has one, else its broadcast address.
    /// </summary>
    private static PeerInfo ProducerOf(NodeRegistration node, IReadOnlyList<PeerInfo> peers)
    {
        var peer = peers.FirstOrDefault(p => IsSameNode(node, p));
        var hostPort = node.BroadcastAddress.Contains(':', StringComparison.Ordinal)
            ? $"[{node.BroadcastAddress}]:{node.TcpPort.ToString(CultureInfo.InvariantCulture)}"
            : $"{node.BroadcastAddress}:{node.TcpPort.ToString(CultureInfo.InvariantCulture)}";
        return new PeerInfo(peer?.Id ?? hostPort)
        {
            RemoteAddress = peer?.RemoteAddress ?? hostPort,
            Hostname = peer?.Hostname ?? node.BroadcastAddress,
            BroadcastAddress = node.BroadcastAddress,
            TcpPort = node.TcpPort,
            HttpPort = node.HttpPort,
            Version = node.Version,
            TopologyZone = peer?.TopologyZone ?? "",
            TopologyRegion = peer?.TopologyRegion ?? "",
        };
    }
}
