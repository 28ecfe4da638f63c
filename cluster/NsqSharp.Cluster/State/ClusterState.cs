using System.Text.Json.Serialization;

namespace NsqSharp.Cluster.State;

/// <summary>
/// A live nsqd, as it registers itself under its lease (/nodes/&lt;id&gt;): where clients and replicas reach it.
/// </summary>
public sealed record NodeRegistration(
    [property: JsonPropertyName("node_id")] string NodeId,
    [property: JsonPropertyName("broadcast_address")] string BroadcastAddress,
    [property: JsonPropertyName("tcp_port")] int TcpPort,
    [property: JsonPropertyName("http_port")] int HttpPort,
    [property: JsonPropertyName("version")] string Version);

/// <summary>A replicated topic's settings, written once by the controller at create (/topics/&lt;t&gt;/config).</summary>
public sealed record TopicConfig(
    [property: JsonPropertyName("partitions")] int Partitions,
    [property: JsonPropertyName("replicas")] int Replicas,
    [property: JsonPropertyName("min_isr")] int MinIsr);

/// <summary>
/// One partition's replication state (/topics/&lt;t&gt;/partitions/&lt;p&gt;). The controller writes leader, epoch and
/// replicas; the leader writes the ISR. Every write is a compare-and-swap on the key's mod revision, so a writer
/// acting on an old view fails; <see cref="LeaderEpoch"/> only grows and is stamped into the log's batches.
/// </summary>
/// <param name="Leader">Node id of the leader, or null while no eligible replica is alive (offline partition).</param>
/// <param name="LeaderEpoch">Bumped by the controller at every leader change.</param>
/// <param name="Replicas">Every node that holds the partition, preferred leader first.</param>
/// <param name="Isr">In-sync replicas (leader included): the only nodes that may become leader in a clean election.</param>
public sealed record PartitionState(
    [property: JsonPropertyName("leader")] string? Leader,
    [property: JsonPropertyName("leader_epoch")] long LeaderEpoch,
    [property: JsonPropertyName("replicas")] IReadOnlyList<string> Replicas,
    [property: JsonPropertyName("isr")] IReadOnlyList<string> Isr)
{
    [JsonIgnore]
    public bool IsOffline => Leader is null;
}

[JsonSerializable(typeof(NodeRegistration))]
[JsonSerializable(typeof(TopicConfig))]
[JsonSerializable(typeof(PartitionState))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class ClusterStateJson : JsonSerializerContext;
