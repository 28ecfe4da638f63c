using System.Text.Json;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;

namespace NsqSharp.Cluster.State;

/// <summary>
/// Every write of cluster state, each one transaction guarded the way docs/OPERATIONS.md ("etcd keys") says: topic
/// creation by the config key's absence, partition changes by the partition key's mod revision (plus the
/// controller's term when the controller writes), so a writer acting on an old view changes nothing.
/// </summary>
public sealed class ClusterStateWriter(IMetadataStore store, ClusterKeys keys)
{
    public ClusterKeys Keys { get; } = keys;

    public Task<long> RegisterNodeAsync(NodeRegistration node, IStoreLease lease, CancellationToken ct = default) =>
        store.PutAsync(Keys.Node(node.NodeId), JsonSerializer.SerializeToUtf8Bytes(node, ClusterStateJson.Default.NodeRegistration), lease.Id, ct);

    /// <summary>
    /// Creates the topic with its partitions in one transaction; false when it already exists. Placements are the
    /// replica sets, preferred leader first (<see cref="Placement.Assign"/>); the fence is the controller's term, or
    /// null when any lookupd creates (creation is guarded by the config key's absence).
    /// </summary>
    public async Task<bool> CreateTopicAsync(string topic, TopicConfig config, IReadOnlyList<IReadOnlyList<string>> placements, Condition? fence, CancellationToken ct = default)
    {
        var txn = new Transaction().If(Condition.Absent(Keys.Topic(topic)));
        if (fence is not null)
        {
            txn.If(fence);
        }

        txn.Then(Operation.Put(Keys.Topic(topic), JsonSerializer.SerializeToUtf8Bytes(config, ClusterStateJson.Default.TopicConfig)));
        for (int p = 0; p < placements.Count; p++)
        {
            var state = new PartitionState(placements[p][0], 1, placements[p], placements[p]);
            txn.Then(Operation.Put(Keys.Partition(topic, p), Serialize(state)));
        }

        return (await store.TransactAsync(txn, ct).ConfigureAwait(false)).Succeeded;
    }

    /// <summary>Replaces a partition's state if it is still at <paramref name="expectedModRevision"/> (and the fence holds).
    /// Returns the new mod revision, or null when someone changed it first.</summary>
    public async Task<long?> UpdatePartitionAsync(string topic, int partition, long expectedModRevision, PartitionState state, Condition? fence, CancellationToken ct = default)
    {
        var key = Keys.Partition(topic, partition);
        var txn = new Transaction().If(Condition.ModRevisionIs(key, expectedModRevision)).Then(Operation.Put(key, Serialize(state)));
        if (fence is not null)
        {
            txn.If(fence);
        }

        var result = await store.TransactAsync(txn, ct).ConfigureAwait(false);
        return result.Succeeded ? result.Revision : null;
    }

    public async Task DeleteTopicAsync(string topic, CancellationToken ct = default) =>
        await store.DeleteAsync(Keys.TopicPrefix(topic), prefix: true, ct).ConfigureAwait(false);

    public async Task PutChannelAsync(string topic, string channel, bool paused, CancellationToken ct = default) =>
        await store.PutAsync(Keys.Channel(topic, channel), System.Text.Encoding.UTF8.GetBytes(paused ? "{\"paused\":true}" : "{\"paused\":false}"), 0, ct).ConfigureAwait(false);

    public async Task DeleteChannelAsync(string topic, string channel, CancellationToken ct = default) =>
        await store.DeleteAsync(Keys.Channel(topic, channel), prefix: false, ct).ConfigureAwait(false);

    private static byte[] Serialize(PartitionState state) => JsonSerializer.SerializeToUtf8Bytes(state, ClusterStateJson.Default.PartitionState);
}
