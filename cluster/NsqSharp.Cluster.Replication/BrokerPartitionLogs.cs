using NsqSharp.Nsqd.Storage;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Cluster.Replication;

/// <summary>
/// The node's partition logs are its broker's topic partitions (opened with the high watermark owned by
/// replication: <see cref="Nsqd.NsqdOptions.Replicated"/>). A topic appears with every partition this node holds.
/// </summary>
public sealed class BrokerPartitionLogs(BrokerNode broker) : IPartitionLogs
{
    public async ValueTask<PartitionLog> GetOrCreateAsync(string topic, int partition, IReadOnlyList<int> localPartitions, CancellationToken ct)
    {
        var t = await broker.GetOrCreateTopicAsync(topic, [.. localPartitions], ct).ConfigureAwait(false);
        if (t.TryGetPartition(partition, out var log))
        {
            return log;
        }

        // The topic exists here with another set of partitions (a reassignment): adding partitions to a live topic
        // comes with partition moves (issue 12).
        throw new InvalidOperationException($"topic {topic} on this node holds partitions [{string.Join(",", t.PartitionIds)}], not {partition}");
    }
}
