using System.Text.Json;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;

namespace NsqSharp.Lookupd.Tests.Cluster;

/// <summary>
/// The test's own client of the etcd a cluster-mode lookupd uses: simulated nsqd nodes (their registrations under
/// leases, as nsqd will write them; revoking one is that nsqd dying) and reads of the keys lookupd wrote.
/// </summary>
internal sealed class SimulatedCluster : IAsyncDisposable
{
    private readonly Dictionary<string, IStoreLease> _leases = new(StringComparer.Ordinal);

    public SimulatedCluster(string etcdUrl, string clusterName)
    {
        Store = new EtcdMetadataStore(etcdUrl);
        Keys = new ClusterKeys(clusterName);
        Writer = new ClusterStateWriter(Store, Keys);
    }

    public EtcdMetadataStore Store { get; }

    public ClusterKeys Keys { get; }

    public ClusterStateWriter Writer { get; }

    public static NodeRegistration Node(string id, int tcpPort) => new(id, "127.0.0.1", tcpPort, tcpPort + 1, "1.3.0");

    /// <summary>Registers live nodes n1..nN with TCP ports 14150, 14160, ... (never bound: nothing dials them here).</summary>
    public async Task<IReadOnlyList<NodeRegistration>> AddNodesAsync(int count)
    {
        var nodes = new List<NodeRegistration>();
        for (int i = 1; i <= count; i++)
        {
            nodes.Add(await AddNodeAsync(Node("n" + i, 14140 + (i * 10))));
        }

        return nodes;
    }

    public async Task<NodeRegistration> AddNodeAsync(NodeRegistration node)
    {
        var lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(30));
        _leases[node.NodeId] = lease;
        await Writer.RegisterNodeAsync(node, lease);
        return node;
    }

    /// <summary>The node's nsqd dies: its lease is revoked, so its key goes at once.</summary>
    public async Task KillNodeAsync(string nodeId)
    {
        await _leases[nodeId].RevokeAsync();
        _leases.Remove(nodeId);
    }

    public async Task<string?> ReadAsync(string key) => (await Store.GetAsync(key)).Single?.ValueText;

    public async Task<JsonElement> ReadJsonAsync(string key)
    {
        var text = await ReadAsync(key) ?? throw new InvalidOperationException("no key " + key);
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>Every key under the topic's prefix (config, partitions, channels).</summary>
    public async Task<IReadOnlyList<string>> TopicKeysAsync(string topic) =>
        [.. (await Store.GetPrefixAsync(Keys.TopicPrefix(topic))).Values.Select(v => v.Key)];

    public async Task<IReadOnlyList<string>> AllTopicKeysAsync() =>
        [.. (await Store.GetPrefixAsync(Keys.TopicsPrefix)).Values.Select(v => v.Key)];

    public async ValueTask DisposeAsync()
    {
        foreach (var lease in _leases.Values)
        {
            await lease.DisposeAsync();
        }

        await Store.DisposeAsync();
    }
}
