using System.Text.Json;
using NsqSharp.Cluster.State;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>The cluster API's JSON pieces, keys as the etcd values name them (docs/OPERATIONS.md, "etcd keys").</summary>
internal static class ClusterJson
{
    /// <summary>{"partition":0,"leader":"n1" or null,"leader_epoch":1,"replicas":[...],"isr":[...]}</summary>
    public static void WritePartitions(Utf8JsonWriter json, string name, TopicView topic)
    {
        json.WriteStartArray(name);
        foreach (var partition in topic.Partitions.Values)
        {
            var state = partition.State;
            json.WriteStartObject();
            json.WriteNumber("partition", partition.Partition);
            if (state.Leader is { } leader)
            {
                json.WriteString("leader", leader);
            }
            else
            {
                json.WriteNull("leader");
            }

            json.WriteNumber("leader_epoch", state.LeaderEpoch);
            Http.LookupJson.WriteStrings(json, "replicas", state.Replicas);
            Http.LookupJson.WriteStrings(json, "isr", state.Isr);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>{"partitions":P,"replicas":R,"min_isr":M}</summary>
    public static void WriteConfig(Utf8JsonWriter json, string name, TopicConfig config)
    {
        json.WriteStartObject(name);
        json.WriteNumber("partitions", config.Partitions);
        json.WriteNumber("replicas", config.Replicas);
        json.WriteNumber("min_isr", config.MinIsr);
        json.WriteEndObject();
    }

    /// <summary>A node's registration: {"node_id","broadcast_address","tcp_port","http_port","version"}.</summary>
    public static void WriteNode(Utf8JsonWriter json, NodeRegistration node)
    {
        json.WriteStartObject();
        json.WriteString("node_id", node.NodeId);
        json.WriteString("broadcast_address", node.BroadcastAddress);
        json.WriteNumber("tcp_port", node.TcpPort);
        json.WriteNumber("http_port", node.HttpPort);
        json.WriteString("version", node.Version);
        json.WriteEndObject();
    }
}
