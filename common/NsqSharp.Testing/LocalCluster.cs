namespace NsqSharp.Testing;

/// <summary>
/// A cluster of real processes on 127.0.0.1: one etcd, N nsqd nodes in cluster mode (node ids n1..nN, each its own
/// data directory, restartable on the same ports and data) and optionally M nsqlookupd controllers. Tests and the
/// chaos harness kill, pause and restart its members through the typed servers.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private LocalCluster(string name, EtcdProcess etcd, List<NsqdProcess> nodes, List<NsqlookupdProcess> lookupds)
    {
        Name = name;
        Etcd = etcd;
        Nodes = nodes;
        Lookupds = lookupds;
    }

    public string Name { get; }

    public EtcdProcess Etcd { get; }

    public IReadOnlyList<NsqdProcess> Nodes { get; }

    public IReadOnlyList<NsqlookupdProcess> Lookupds { get; }

    /// <summary>The node id of <see cref="Nodes"/>[i].</summary>
    public static string NodeId(int index) => $"n{index + 1}";

    public NsqdProcess Node(string nodeId) => Nodes[int.Parse(nodeId.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture) - 1];

    /// <summary>Starts etcd, then the nodes (and lookupds) in parallel. nsqdArgs/lookupdArgs are added to every member's
    /// command line (e.g. a shorter --cluster-lease-ttl).</summary>
    public static async Task<LocalCluster> StartAsync(int nodes, int lookupds = 0, IEnumerable<string>? nsqdArgs = null,
        IEnumerable<string>? lookupdArgs = null, string name = "test")
    {
        var etcd = await EtcdProcess.StartAsync().ConfigureAwait(false);
        var started = new List<IAsyncDisposable> { etcd };
        try
        {
            string[] cluster = [$"--etcd-endpoints={etcd.ClientUrl}", $"--cluster-name={name}"];
            var lookupdTasks = Enumerable.Range(0, lookupds)
                .Select(_ => NsqlookupdProcess.StartAsync([.. cluster, .. lookupdArgs ?? []], executable: null)).ToList();
            var lookupdList = new List<NsqlookupdProcess>();
            foreach (var task in lookupdTasks)
            {
                var lookupd = await task.ConfigureAwait(false);
                started.Add(lookupd);
                lookupdList.Add(lookupd);
            }

            string[] register = [.. lookupdList.Select(l => $"--lookupd-tcp-address={l.TcpAddress}")];
            var nodeTasks = Enumerable.Range(0, nodes)
                .Select(i => NsqdProcess.StartAsync([.. cluster, $"--node-id={NodeId(i)}", .. register, .. nsqdArgs ?? []])).ToList();
            var nodeList = new List<NsqdProcess>();
            Exception? failed = null;
            foreach (var task in nodeTasks)
            {
                try
                {
                    var node = await task.ConfigureAwait(false);
                    started.Add(node);
                    nodeList.Add(node);
                }
                catch (Exception e)
                {
                    failed ??= e;
                }
            }

            if (failed is not null)
            {
                throw failed;
            }

            return new LocalCluster(name, etcd, nodeList, lookupdList);
        }
        catch
        {
            foreach (var member in started)
            {
                await member.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            node.Resume(); // a paused process cannot be stopped gracefully
            await node.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var lookupd in Lookupds)
        {
            lookupd.Resume();
            await lookupd.DisposeAsync().ConfigureAwait(false);
        }

        Etcd.Resume();
        await Etcd.DisposeAsync().ConfigureAwait(false);
    }
}
