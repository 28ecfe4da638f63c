namespace NsqSharp.Cluster.Replication.Leader;

/// <summary>What a fetch needs to know of this node's partitions (the cluster agent's role table).</summary>
public interface IReplicaLookup
{
    /// <summary>The leader of the partition on this node, or null when this node does not lead it.</summary>
    PartitionLeader? FindLeader(string topic, int partition);

    /// <summary>Whether this node holds the partition at all (as leader or follower).</summary>
    bool HoldsPartition(string topic, int partition);
}
