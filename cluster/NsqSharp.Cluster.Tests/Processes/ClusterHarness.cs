using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NsqSharp.Client;
using NsqSharp.Cluster.Controller;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Testing;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// A <see cref="LocalCluster"/> of real nsqd processes plus what the tests need around it: the cluster state as etcd
/// has it (a watcher of the test's own), an in-test controller when no lookupd runs one, publishers that record
/// every acknowledged message, and a drain.
/// </summary>
internal sealed class ClusterHarness : IAsyncDisposable
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly CancellationTokenSource _stopController = new();
    private Task? _controller;

    private ClusterHarness(LocalCluster cluster, EtcdMetadataStore store, ClusterWatcher watcher)
    {
        Cluster = cluster;
        Store = store;
        Watcher = watcher;
        Writer = new ClusterStateWriter(store, watcher.Keys);
    }

    public LocalCluster Cluster { get; }

    public EtcdMetadataStore Store { get; }

    public ClusterWatcher Watcher { get; }

    public ClusterStateWriter Writer { get; }

    /// <summary>Starts the cluster; with inTestController the controller runs in the test process (no lookupd).</summary>
    public static async Task<ClusterHarness> StartAsync(int nodes, bool inTestController, IEnumerable<string>? nsqdArgs = null, int lookupds = 0)
    {
        var cluster = await LocalCluster.StartAsync(nodes, lookupds, nsqdArgs).ConfigureAwait(false);
        var store = new EtcdMetadataStore(cluster.Etcd.ClientUrl);
        var watcher = new ClusterWatcher(store, new ClusterKeys(cluster.Name));
        await watcher.StartAsync(CancellationToken.None).ConfigureAwait(false);
        var harness = new ClusterHarness(cluster, store, watcher);
        if (inTestController)
        {
            harness._controller = new ClusterController(store, watcher, "test-controller", new ControllerOptions()).RunAsync(harness._stopController.Token);
        }

        await harness.WaitForAsync(v => v.Nodes.Count == nodes).ConfigureAwait(false);
        return harness;
    }

    /// <summary>Polls until the condition holds (bounded by <see cref="Bound"/>: a hang fails the test).</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(20, bound.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Polls an asynchronous condition (an HTTP answer, say) until it holds, bounded by <see cref="Bound"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (!await condition().ConfigureAwait(false))
        {
            await Task.Delay(50, bound.Token).ConfigureAwait(false);
        }
    }

    public Task<ClusterView> WaitForAsync(Func<ClusterView, bool> condition) => Watcher.WaitForAsync(condition, CancellationToken.None).WaitAsync(Bound);

    public PartitionState Partition(string topic, int partition = 0) => Watcher.Current.Topics[topic].Partitions[partition].State;

    /// <summary>Creates a topic with its first partition led by n1 (replicas n1..nR) and the given channels, and waits
    /// until its leader takes publishes (it answers /stats with role leader and the ISR complete).</summary>
    public async Task CreateTopicAsync(string topic, int replicas, int minIsr, params string[] channels)
    {
        var ids = Enumerable.Range(0, replicas).Select(LocalCluster.NodeId).ToList();
        if (!await Writer.CreateTopicAsync(topic, new TopicConfig(1, replicas, minIsr), [ids], fence: null).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"topic {topic} exists");
        }

        foreach (var channel in channels)
        {
            await Writer.PutChannelAsync(topic, channel, paused: false).ConfigureAwait(false);
        }

        await WaitForAsync(v => v.Topics.TryGetValue(topic, out var t) && t.Partitions.Count == 1).ConfigureAwait(false);
        await WaitForRolesAsync(topic).ConfigureAwait(false);
    }

    /// <summary>Waits until every replica of the topic's partition 0 runs the role the cluster state gives it (its
    /// /stats says so): the state in etcd is ahead of the nodes by a watch event.</summary>
    public async Task WaitForRolesAsync(string topic)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            var state = Partition(topic);
            var ready = true;
            foreach (var id in state.Replicas)
            {
                var role = await RoleAsync(Cluster.Node(id), topic).ConfigureAwait(false);
                ready &= role == (id == state.Leader ? "leader" : "follower");
            }

            if (ready)
            {
                return;
            }

            await Task.Delay(50, bound.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The role a node reports for the topic's partition 0 in /stats, or null.</summary>
    public static async Task<string?> RoleAsync(NsqdProcess node, string topic)
    {
        try
        {
            using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{node.HttpBase}/stats?format=json&topic={topic}").ConfigureAwait(false));
            if (doc.RootElement.GetProperty("topics").ValueKind != JsonValueKind.Array)
            {
                return null; // upstream writes null for no topics
            }

            foreach (var t in doc.RootElement.GetProperty("topics").EnumerateArray())
            {
                if (t.GetProperty("topic_name").GetString() == topic && t.GetProperty("partitions").GetArrayLength() > 0
                    && t.GetProperty("partitions")[0].TryGetProperty("role", out var role))
                {
                    return role.GetString();
                }
            }
        }
        catch (HttpRequestException)
        {
        }

        return null;
    }

    /// <summary>Publishes "prefix-seq" through one node until stopped, recording each acknowledged body, each failure
    /// by error code, and the time of every acknowledgement (for failover times).</summary>
    public static async Task PublishUntilAsync(NsqdProcess node, string topic, string prefix, PublishLog log, CancellationToken stop)
    {
        Producer? producer = null;
        var seq = 0;
        while (!stop.IsCancellationRequested)
        {
            var body = $"{prefix}-{seq}";
            var started = Stopwatch.GetTimestamp();
            try
            {
                producer ??= new Producer(node.TcpAddress, new NsqConfig());
                await producer.PublishAsync(topic, Encoding.UTF8.GetBytes(body), stop).ConfigureAwait(false);
                log.Acked(body, started);
                seq++;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (NsqServerException e)
            {
                log.Failed(e.Code);
                seq++; // an error answer means not acknowledged; a later retry uses a new body
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }
            catch (NsqException e)
            {
                log.Failed(e.GetType().Name);
                seq++;
                if (producer is not null)
                {
                    await producer.DisposeAsync().ConfigureAwait(false);
                    producer = null;
                }

                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
            }
        }

        if (producer is not null)
        {
            await producer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Consumes the channel on the node until every expected body arrived (or the bound passed); returns what came.</summary>
    public static async Task<HashSet<string>> DrainAsync(NsqdProcess node, string topic, string channel, IReadOnlyCollection<string> expected)
    {
        var received = new HashSet<string>(StringComparer.Ordinal);
        await using var consumer = new Consumer(topic, channel, new NsqConfig { MaxInFlight = 1000 });
        await consumer.ConnectToNsqdAsync(node.TcpAddress).ConfigureAwait(false);
        using var bound = new CancellationTokenSource(Bound);
        var missing = new HashSet<string>(expected, StringComparer.Ordinal);
        try
        {
            await foreach (var message in consumer.ReadAllAsync(bound.Token).ConfigureAwait(false))
            {
                var body = Encoding.UTF8.GetString(message.Body.Span);
                received.Add(body);
                missing.Remove(body);
                if (missing.Count == 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return received;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopController.CancelAsync().ConfigureAwait(false);
        if (_controller is not null)
        {
            await _controller.ConfigureAwait(false);
        }

        await Watcher.DisposeAsync().ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false);
        await Cluster.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>What publishers saw: acknowledged bodies with their times, failures by code.</summary>
internal sealed class PublishLog
{
    private readonly ConcurrentQueue<(string Body, long Sent, long Acked)> _acked = new();

    public ConcurrentDictionary<string, int> Failures { get; } = new(StringComparer.Ordinal);

    public int AckedCount => _acked.Count;

    public IReadOnlyList<string> AckedBodies => [.. _acked.Select(a => a.Body)];

    public void Acked(string body, long sent) => _acked.Enqueue((body, sent, Stopwatch.GetTimestamp()));

    public void Failed(string code) => Failures.AddOrUpdate(code, 1, (_, n) => n + 1);

    /// <summary>The first acknowledgement of a publish sent at or after a moment (Stopwatch timestamp), or null.</summary>
    public long? FirstAckAfter(long timestamp) => _acked.Where(a => a.Sent >= timestamp).Select(a => (long?)a.Acked).Min();

    public string DescribeFailures() => string.Join(", ", Failures.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} x{f.Value}"));
}
