using System.Diagnostics;
using System.Text.Json;
using NsqSharp.Chaos.Lab;
using NsqSharp.Testing;

namespace NsqSharp.Chaos.Cluster;

/// <summary>What the cluster under test is made of and where its files go.</summary>
public sealed record ChaosClusterOptions
{
    /// <summary>The run's output directory: each member's data and log under OUT/&lt;member&gt;/.</summary>
    public required string OutDir { get; init; }

    /// <summary>--cluster-name of every member.</summary>
    public string ClusterName { get; init; } = "chaos";

    /// <summary>nsqd nodes n1..nN.</summary>
    public int Nodes { get; init; } = 3;

    /// <summary>nsqlookupd controllers l1..lM.</summary>
    public int Lookupds { get; init; } = 2;

    /// <summary>Added to every nsqd's command line (e.g. --cluster-lease-ttl=2s).</summary>
    public IReadOnlyList<string> NsqdArgs { get; init; } = [];

    public IReadOnlyList<string> LookupdArgs { get; init; } = [];

    public IReadOnlyList<string> EtcdArgs { get; init; } = [];

    /// <summary>How long each member's start, and then the cluster's forming (nodes registered, a controller), may take.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The member names for these options: etcd, l1..lM, n1..nN (the lab's members).</summary>
    public IReadOnlyList<string> MemberNames => ChaosCluster.MemberNames(Nodes, Lookupds);
}

/// <summary>A topic partition as a lookupd's view has it (GET /lookup?topic=T).</summary>
public sealed record PartitionView(int Partition, string? Leader, long LeaderEpoch, IReadOnlyList<string> Replicas, IReadOnlyList<string> Isr);

/// <summary>A lookupd's view of the cluster (GET /cluster): its controller candidate id, whether it is the controller,
/// the controller it sees, and the registered nodes.</summary>
public sealed record ControllerView(string Lookupd, string Id, bool IsController, string? Controller, IReadOnlyList<string> Nodes);

/// <summary>
/// The cluster under test: one etcd, M nsqlookupd controllers and N nsqd nodes in cluster mode, real processes.
/// In the lab (<see cref="LabMode.Namespaces"/>) each runs in its own member namespace on its lab address with the
/// standard ports (etcd 2379/2380, lookupd 4160/4161, nsqd 4150/4151/4152), so each can be partitioned, etcd too;
/// loopback only, they run on 127.0.0.1 and free ports (as <see cref="LocalCluster"/> does), and only the process
/// faults apply. The same members, by name, either way: etcd, l1..lM, n1..nN (nsqd node ids). Data and logs go under
/// the run's out dir and stay after it.
/// </summary>
public sealed class ChaosCluster : IAsyncDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private readonly List<ChaosMember> _members;
    private readonly LabNetworkAccess _access;

    private ChaosCluster(ChaosClusterOptions options, LabDescription? lab, LabNetworkAccess access, List<ChaosMember> members)
    {
        Options = options;
        Lab = lab;
        _access = access;
        _members = members;
        Http = access.CreateHttpClient(TimeSpan.FromSeconds(5));
    }

    public ChaosClusterOptions Options { get; }

    /// <summary>The lab it runs in, or null on loopback.</summary>
    public LabDescription? Lab { get; }

    /// <summary>Namespaces (every fault) or loopback (kill and pause only).</summary>
    public LabMode Mode => Lab?.Mode ?? LabMode.Loopback;

    public string ClusterName => Options.ClusterName;

    /// <summary>An HTTP client that reaches the members (from the client namespace in the lab), 5 s per request.</summary>
    public HttpClient Http { get; }

    /// <summary>How this process reaches the members.</summary>
    public LabNetworkAccess Access => _access;

    public IReadOnlyList<ChaosMember> Members => _members;

    public ChaosMember Etcd => Member("etcd");

    public IReadOnlyList<ChaosMember> Lookupds => [.. _members.Where(m => m.Kind == MemberKind.Lookupd)];

    public IReadOnlyList<ChaosMember> Nodes => [.. _members.Where(m => m.Kind == MemberKind.Nsqd)];

    /// <summary>The etcd client URL the members use.</summary>
    public string EtcdEndpoint => $"http://{Etcd.Host}:{Etcd.Ports[0]}";

    public ChaosMember this[string name] => Member(name);

    public ChaosMember Member(string name) =>
        _members.FirstOrDefault(m => m.Name == name) ?? throw new KeyNotFoundException($"no member '{name}' (members: {string.Join(", ", _members.Select(m => m.Name))})");

    /// <summary>etcd, l1..lM, n1..nN.</summary>
    public static IReadOnlyList<string> MemberNames(int nodes, int lookupds) =>
        ["etcd", .. Enumerable.Range(1, lookupds).Select(i => $"l{i}"), .. Enumerable.Range(1, nodes).Select(i => $"n{i}")];

    /// <summary>
    /// Starts etcd, then the lookupds, then the nodes, and waits until every lookupd sees all nodes registered and a
    /// controller elected. With a namespace lab every member runs in its own namespace (the lab must have them all);
    /// with null or a loopback-only lab on 127.0.0.1. <paramref name="access"/> is how this process reaches the lab's
    /// addresses: default direct (nsq_chaos's child is inside the lab); a test in the host namespace passes
    /// <see cref="LabNetworkAccess.Via"/> the client namespace.
    /// </summary>
    public static async Task<ChaosCluster> StartAsync(ChaosClusterOptions options, LabDescription? lab, LabNetworkAccess? access = null,
        CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Nodes, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Lookupds, 1, nameof(options)); // the controller runs in a lookupd
        var inLab = lab is { Mode: LabMode.Namespaces };
        access ??= LabNetworkAccess.Direct;
        var outDir = Path.GetFullPath(options.OutDir);
        var started = new List<ChaosMember>();
        ServerPlacement Place(string name, int[] labPorts)
        {
            var dir = Path.Combine(outDir, name);
            Directory.CreateDirectory(dir);
            var log = Path.Combine(dir, name + ".log");
            if (!inLab)
            {
                return new ServerPlacement { OutputFile = log };
            }

            var member = lab!.Member(name);
            return new ServerPlacement
            {
                Host = member.Address,
                NetworkNamespace = member.Namespace,
                Ports = labPorts,
                ProbeClient = access == LabNetworkAccess.Direct ? null : () => access.CreateHttpClient(TimeSpan.FromSeconds(2)),
                OutputFile = log,
            };
        }

        try
        {
            var etcdPlace = Place("etcd", [2379, 2380]);
            var etcd = await EtcdProcess.StartAsync(options.EtcdArgs, etcdPlace,
                Path.Combine(outDir, "etcd", "data")).ConfigureAwait(false);
            started.Add(new ChaosMember("etcd", MemberKind.Etcd, etcd, etcd.DataPath, etcdPlace.OutputFile!));
            string[] cluster = [$"--etcd-endpoints={etcd.ClientUrl}", $"--cluster-name={options.ClusterName}"];

            var lookupdTasks = Enumerable.Range(1, options.Lookupds).Select(async i =>
            {
                var name = $"l{i}";
                var place = Place(name, [4160, 4161]);
                var server = await NsqlookupdProcess.StartAsync([.. cluster, .. options.LookupdArgs], executable: null, place).ConfigureAwait(false);
                return new ChaosMember(name, MemberKind.Lookupd, server, null, place.OutputFile!);
            }).ToList();
            started.AddRange(await WhenAllStartedAsync(lookupdTasks).ConfigureAwait(false));

            string[] register = [.. started.Where(m => m.Kind == MemberKind.Lookupd).Select(l => $"--lookupd-tcp-address={l.TcpAddress}")];
            var nodeTasks = Enumerable.Range(1, options.Nodes).Select(async i =>
            {
                var name = $"n{i}";
                var place = Place(name, [4150, 4151, 4152]);
                var data = Path.Combine(outDir, name, "data");
                Directory.CreateDirectory(data);
                var server = await NsqdProcess.StartAsync([.. cluster, $"--node-id={name}", .. register, .. options.NsqdArgs],
                    dataPath: data, placement: place).ConfigureAwait(false);
                return new ChaosMember(name, MemberKind.Nsqd, server, data, place.OutputFile!);
            }).ToList();
            started.AddRange(await WhenAllStartedAsync(nodeTasks).ConfigureAwait(false));

            var chaos = new ChaosCluster(options, inLab ? lab : null, access, started);
            try
            {
                await chaos.WaitUntilFormedAsync(options.StartTimeout, ct).ConfigureAwait(false);
            }
            catch
            {
                await chaos.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return chaos;
        }
        catch
        {
            foreach (var member in started)
            {
                member.Stop();
            }

            throw;
        }
    }

    /// <summary>Every lookupd's view of the cluster (GET /cluster); a lookupd that does not answer is left out.</summary>
    public async Task<IReadOnlyList<ControllerView>> ControllerViewsAsync(CancellationToken ct = default)
    {
        var views = new List<ControllerView>();
        foreach (var lookupd in Lookupds)
        {
            if (await GetJsonAsync(lookupd, "/cluster", ct).ConfigureAwait(false) is { } doc)
            {
                using (doc)
                {
                    var root = doc.RootElement;
                    views.Add(new ControllerView(
                        lookupd.Name,
                        root.GetProperty("id").GetString() ?? "",
                        root.GetProperty("is_controller").GetBoolean(),
                        root.GetProperty("controller").GetString(),
                        [.. root.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("node_id").GetString() ?? "")]));
                }
            }
        }

        return views;
    }

    /// <summary>The lookupd (member name) that says it is the controller, or null if none does (or none answers).</summary>
    public async Task<string?> ControllerAsync(CancellationToken ct = default) =>
        (await ControllerViewsAsync(ct).ConfigureAwait(false)).FirstOrDefault(v => v.IsController)?.Lookupd;

    /// <summary>The member a lookupd candidate id (broadcast address:HTTP port) belongs to, or null.</summary>
    public string? MemberOfCandidate(string? id) =>
        id == null ? null : Lookupds.FirstOrDefault(l => l.HttpAddress == id)?.Name;

    /// <summary>
    /// The topic's partitions as the first answering lookupd (or the one named) sees them (GET /lookup?topic=T), or
    /// null if no lookupd answers or it does not know the topic as a cluster topic.
    /// </summary>
    public async Task<IReadOnlyList<PartitionView>?> PartitionsAsync(string topic, string? lookupd = null, CancellationToken ct = default)
    {
        foreach (var l in lookupd == null ? Lookupds : [Member(lookupd)])
        {
            if (await GetJsonAsync(l, "/lookup?topic=" + Uri.EscapeDataString(topic), ct).ConfigureAwait(false) is not { } doc)
            {
                continue;
            }

            using (doc)
            {
                if (!doc.RootElement.TryGetProperty("partitions", out var partitions) || partitions.ValueKind != JsonValueKind.Array)
                {
                    return null;
                }

                return [.. partitions.EnumerateArray().Select(p => new PartitionView(
                    p.GetProperty("partition").GetInt32(),
                    p.GetProperty("leader").ValueKind == JsonValueKind.String ? p.GetProperty("leader").GetString() : null,
                    p.GetProperty("leader_epoch").GetInt64(),
                    Strings(p.GetProperty("replicas")),
                    Strings(p.GetProperty("isr"))))];
            }
        }

        return null;
    }

    /// <summary>The leader (node id = member name) the cluster state gives the partition, or null.</summary>
    public async Task<string?> LeaderAsync(string topic, int partition = 0, CancellationToken ct = default) =>
        (await PartitionsAsync(topic, ct: ct).ConfigureAwait(false))?.FirstOrDefault(p => p.Partition == partition)?.Leader;

    /// <summary>The role ("leader", "follower") a node reports for the partition in its /stats, or null.</summary>
    public async Task<string?> RoleAsync(string node, string topic, int partition = 0, CancellationToken ct = default)
    {
        if (await GetJsonAsync(Member(node), "/stats?format=json&topic=" + Uri.EscapeDataString(topic), ct).ConfigureAwait(false) is not { } doc)
        {
            return null;
        }

        using (doc)
        {
            if (!doc.RootElement.TryGetProperty("topics", out var topics) || topics.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            foreach (var t in topics.EnumerateArray())
            {
                if (t.GetProperty("topic_name").GetString() != topic)
                {
                    continue;
                }

                foreach (var p in t.GetProperty("partitions").EnumerateArray())
                {
                    if (p.GetProperty("partition").GetInt32() == partition && p.TryGetProperty("role", out var role))
                    {
                        return role.GetString();
                    }
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Waits until the partition has a leader in the cluster state that also says so itself (its /stats role is
    /// leader): the one that takes publishes. Returns its name.
    /// </summary>
    /// <exception cref="TimeoutException">No such leader within the timeout.</exception>
    public async Task<string> WaitForLeaderAsync(string topic, int partition = 0, TimeSpan? timeout = null, string? except = null,
        CancellationToken ct = default)
    {
        var bound = timeout ?? Options.StartTimeout;
        var clock = Stopwatch.StartNew();
        string? last = null;
        while (clock.Elapsed < bound)
        {
            last = await LeaderAsync(topic, partition, ct).ConfigureAwait(false);
            if (last != null && last != except && await RoleAsync(last, topic, partition, ct).ConfigureAwait(false) == "leader")
            {
                return last;
            }

            await Task.Delay(Poll, ct).ConfigureAwait(false);
        }

        throw new TimeoutException($"topic {topic} partition {partition}: no leader{(except != null ? " other than " + except : "")} within {bound} (last seen: {last ?? "none"})");
    }

    /// <summary>
    /// POST /topic/create?topic=T&amp;partitions=P&amp;replicas=R&amp;min_isr=M to the lookupds in turn until one takes it
    /// (the controller then assigns the replicas).
    /// </summary>
    /// <exception cref="HttpRequestException">No lookupd took it.</exception>
    public async Task CreateTopicAsync(string topic, int partitions, int replicas, int minIsr, CancellationToken ct = default)
    {
        var errors = new List<string>();
        foreach (var lookupd in Lookupds.Where(l => !l.HasExited))
        {
            try
            {
                using var response = await Http.PostAsync(
                    $"{lookupd.HttpBase}/topic/create?topic={Uri.EscapeDataString(topic)}&partitions={partitions}&replicas={replicas}&min_isr={minIsr}",
                    null, ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                errors.Add($"{lookupd.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                errors.Add($"{lookupd.Name}: {e.Message}");
            }
        }

        throw new HttpRequestException($"no lookupd created topic {topic}: {string.Join("; ", errors)}");
    }

    /// <summary>Kills every member (resumed first); data and logs stay under the out dir.</summary>
    public ValueTask DisposeAsync()
    {
        foreach (var member in Enumerable.Reverse(_members))
        {
            member.Stop();
        }

        Http.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task WaitUntilFormedAsync(TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<ControllerView> views = [];
        while (clock.Elapsed < timeout)
        {
            views = await ControllerViewsAsync(ct).ConfigureAwait(false);
            if (views.Count == Options.Lookupds && views.All(v => v.Controller != null && v.Nodes.Count == Options.Nodes) && views.Any(v => v.IsController))
            {
                return;
            }

            if (_members.FirstOrDefault(m => m.HasExited) is { } gone)
            {
                throw new InvalidOperationException($"{gone.Name} exited while the cluster formed:\n{gone.Output}");
            }

            await Task.Delay(Poll, ct).ConfigureAwait(false);
        }

        throw new TimeoutException($"the cluster did not form within {timeout}: " +
            string.Join("; ", views.Select(v => $"{v.Lookupd} controller={v.Controller ?? "none"} nodes=[{string.Join(' ', v.Nodes)}]")));
    }

    private async Task<JsonDocument?> GetJsonAsync(ChaosMember member, string path, CancellationToken ct)
    {
        try
        {
            using var response = await Http.GetAsync(member.HttpBase + path, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            return JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            if (ct.IsCancellationRequested)
            {
                throw;
            }

            return null;
        }
    }

    private static List<string> Strings(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array ? [.. array.EnumerateArray().Select(e => e.GetString() ?? "")] : [];

    /// <summary>Awaits every start; if any failed, stops those that started and throws the first failure.</summary>
    private static async Task<List<ChaosMember>> WhenAllStartedAsync(List<Task<ChaosMember>> tasks)
    {
        var ok = new List<ChaosMember>();
        Exception? failed = null;
        foreach (var task in tasks)
        {
            try
            {
                ok.Add(await task.ConfigureAwait(false));
            }
            catch (Exception e)
            {
                failed ??= e;
            }
        }

        if (failed != null)
        {
            foreach (var member in ok)
            {
                member.Stop();
            }

            throw failed;
        }

        return ok;
    }
}
