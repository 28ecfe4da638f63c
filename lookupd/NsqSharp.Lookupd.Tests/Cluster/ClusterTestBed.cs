using NsqSharp.Testing;

namespace NsqSharp.Lookupd.Tests.Cluster;

/// <summary>A real etcd, the test's client of it, and one cluster-mode nsqlookupd process on it; disposed in reverse.</summary>
internal sealed class ClusterTestBed : IAsyncDisposable
{
    public const string ClusterName = "test";

    private ClusterTestBed(EtcdProcess etcd, SimulatedCluster cluster, ClusterLookupd lookupd)
    {
        Etcd = etcd;
        Cluster = cluster;
        Lookupd = lookupd;
    }

    public EtcdProcess Etcd { get; }

    public SimulatedCluster Cluster { get; }

    public ClusterLookupd Lookupd { get; }

    /// <summary>Starts etcd, registers <paramref name="nodes"/> live nodes, then starts lookupd and waits until it has read them.</summary>
    public static async Task<ClusterTestBed> StartAsync(int nodes)
    {
        var etcd = await EtcdProcess.StartAsync();
        var cluster = new SimulatedCluster(etcd.ClientUrl, ClusterName);
        ClusterLookupd? lookupd = null;
        try
        {
            await cluster.AddNodesAsync(nodes);
            lookupd = await ClusterLookupd.StartAsync(etcd.ClientUrl, ClusterName);
            await WaitForNodesAsync(lookupd, nodes);
            return new ClusterTestBed(etcd, cluster, lookupd);
        }
        catch
        {
            if (lookupd != null)
            {
                await lookupd.DisposeAsync();
            }

            await cluster.DisposeAsync();
            await etcd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Until GET /cluster lists that many live nodes (bounded).</summary>
    public static Task WaitForNodesAsync(ClusterLookupd lookupd, int nodes) =>
        Wait.UntilAsync(async () =>
        {
            var (status, body) = await lookupd.GetAsync("/cluster");
            if (status != System.Net.HttpStatusCode.OK)
            {
                return false;
            }

            using var doc = System.Text.Json.JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("nodes").GetArrayLength() == nodes;
        }, $"{lookupd.Id} to see {nodes} nodes", TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await Lookupd.DisposeAsync();
        await Cluster.DisposeAsync();
        await Etcd.DisposeAsync();
    }
}
