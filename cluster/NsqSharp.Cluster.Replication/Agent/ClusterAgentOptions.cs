namespace NsqSharp.Cluster.Replication.Agent;

/// <summary>nsqd's cluster-mode settings (its flags: --etcd-endpoints, --cluster-name, --node-id, ...).</summary>
public sealed class ClusterAgentOptions
{
    /// <summary>etcd client URLs, comma-separated (validated by EtcdMetadataStore.ParseEndpoints).</summary>
    public required string EtcdEndpoints { get; init; }

    public string ClusterName { get; init; } = "nsqsharp";

    /// <summary>This node's id in the cluster as configured (--node-id), or null: then the one stored in the data
    /// directory, or at first start one derived from the broadcast address and TCP port (see <see cref="NodeIdFile"/>).</summary>
    public string? NodeId { get; init; }

    /// <summary>TTL of the node's registration lease: a node silent this long is dead to the controller (failover).</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a forwarded publish, or a topic the cluster must create first, may take before it fails.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Partitions of a topic auto-created by a publish or subscribe (nsqd's --topic-partitions).</summary>
    public int DefaultPartitions { get; init; } = 1;

    public ReplicationSettings Replication { get; init; } = new();
}
