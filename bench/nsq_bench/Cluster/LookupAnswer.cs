using System.Globalization;
using System.Text.Json;

namespace NsqSharp.Bench.Cluster;

/// <summary>An nsqd as nsqlookupd lists it: its TCP address (broadcast_address:tcp_port) and, in cluster mode, its node id.</summary>
internal sealed record RouteNode(string? NodeId, string Address)
{
    public override string ToString() => NodeId is null ? Address : $"{NodeId} {Address}";
}

/// <summary>One partition of a cluster topic as GET /lookup reports it (leader null while it is offline).</summary>
internal sealed record PartitionInfo(int Partition, string? Leader, long LeaderEpoch, IReadOnlyList<string> Replicas, IReadOnlyList<string> Isr);

/// <summary>
/// nsqlookupd's GET /lookup answer: upstream's <c>producers</c> (also inside the pre-1.0 <c>{"status_code","data"}</c>
/// wrapper) and, from a lookupd in cluster mode, <c>partitions</c> (null when the answer has none: upstream's lookupd).
/// </summary>
internal sealed record LookupAnswer(IReadOnlyList<RouteNode> Producers, IReadOnlyList<PartitionInfo>? Partitions)
{
    public static LookupAnswer Parse(string json)
    {
        using var document = Open(json);
        var root = Unwrap(document.RootElement);
        return new LookupAnswer(Nodes(root, "producers"), ParsePartitions(root));
    }

    /// <summary>GET /nodes: every nsqd registered with the lookupd (producers in the same shape, node_id in cluster mode).</summary>
    public static IReadOnlyList<RouteNode> ParseNodes(string json)
    {
        using var document = Open(json);
        return Nodes(Unwrap(document.RootElement), "producers");
    }

    /// <summary>GET /cluster (cluster mode): every node registered in etcd, <c>nodes</c> with node_id, broadcast_address, tcp_port.</summary>
    public static IReadOnlyList<RouteNode> ParseClusterNodes(string json)
    {
        using var document = Open(json);
        return Nodes(document.RootElement, "nodes");
    }

    /// <summary>Go's net.JoinHostPort: brackets around an IPv6 literal.</summary>
    public static string JoinHostPort(string host, int port) =>
        (host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host) + ":" + port.ToString(CultureInfo.InvariantCulture);

    private static JsonDocument Open(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new LookupdException($"invalid JSON ({e.Message})");
        }
    }

    private static JsonElement Unwrap(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object ? data : root;

    private static List<RouteNode> Nodes(JsonElement root, string arrayName)
    {
        var result = new List<RouteNode>();
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty(arrayName, out var producers) || producers.ValueKind != JsonValueKind.Array)
        {
            return result;
        }

        foreach (var p in producers.EnumerateArray())
        {
            if (p.ValueKind == JsonValueKind.Object && Text(p, "broadcast_address") is { Length: > 0 } host &&
                p.TryGetProperty("tcp_port", out var port) && port.ValueKind == JsonValueKind.Number && port.TryGetInt32(out var tcpPort))
            {
                var node = new RouteNode(Text(p, "node_id"), JoinHostPort(host, tcpPort));
                if (!result.Contains(node))
                {
                    result.Add(node);
                }
            }
        }

        return result;
    }

    private static List<PartitionInfo>? ParsePartitions(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("partitions", out var partitions) || partitions.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var result = new List<PartitionInfo>();
        foreach (var p in partitions.EnumerateArray())
        {
            if (p.ValueKind != JsonValueKind.Object || !p.TryGetProperty("partition", out var number) || !number.TryGetInt32(out var partition))
            {
                continue;
            }

            var epoch = p.TryGetProperty("leader_epoch", out var e) && e.TryGetInt64(out var value) ? value : 0;
            result.Add(new PartitionInfo(partition, Text(p, "leader"), epoch, Strings(p, "replicas"), Strings(p, "isr")));
        }

        result.Sort((a, b) => a.Partition.CompareTo(b.Partition));
        return result;
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string[] Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray()
            : [];
}
