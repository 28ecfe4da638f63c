using NsqSharp.Cluster.Controller;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Controller;

/// <summary>Controllers against a real etcd, with nodes simulated by their leased registrations.</summary>
public sealed class ClusterControllerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private static readonly ClusterKeys Keys = new("test");

    private static NodeRegistration Node(string id) => new(id, "127.0.0.1", 4150, 4151, "test");

    [EtcdFact(Timeout = 90_000)]
    public async Task ADeadLeaderIsReplacedFromTheIsrWithTheEpochBumped_AndANewControllerTakesOver()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var writer = new ClusterStateWriter(store, Keys);
        var leases = new Dictionary<string, IStoreLease>();
        foreach (var id in new[] { "n1", "n2", "n3" })
        {
            leases[id] = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10));
            await writer.RegisterNodeAsync(Node(id), leases[id]);
        }

        await using var watcher = new ClusterWatcher(store, Keys);
        await watcher.StartAsync(CancellationToken.None);
        var placements = Placement.Assign(watcher.Current.Nodes.Keys.ToArray(), 3, 3, []);
        Assert.True(await writer.CreateTopicAsync("orders", new TopicConfig(3, 3, 2), placements, fence: null));
        Assert.False(await writer.CreateTopicAsync("orders", new TopicConfig(3, 3, 2), placements, fence: null));
        var created = await watcher.WaitForAsync(v => v.Topics.TryGetValue("orders", out var t) && t.Partitions.Count == 3, CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(["n1", "n2", "n3"], created.Topics["orders"].Partitions.Values.Select(p => p.State.Leader).Order());

        using var stopA = new CancellationTokenSource();
        var controllerA = new ClusterController(store, watcher, "lookupd-a", new ControllerOptions());
        var runA = controllerA.RunAsync(stopA.Token);
        await WaitUntil(() => controllerA.IsActive);

        // n1's lease ends (its nsqd died): the partition it led moves to the next ISR member, epoch 2.
        var ledByN1 = created.Topics["orders"].Partitions.Values.Single(p => p.State.Leader == "n1");
        await leases["n1"].RevokeAsync();
        var failedOver = await watcher.WaitForAsync(v => v.Topics["orders"].Partitions[ledByN1.Partition].State.Leader is { } l && l != "n1", CancellationToken.None).WaitAsync(Bound);
        var moved = failedOver.Topics["orders"].Partitions[ledByN1.Partition].State;
        Assert.Equal(2, moved.LeaderEpoch);
        Assert.DoesNotContain("n1", moved.Isr);
        Assert.Equal(ledByN1.State.Replicas, moved.Replicas);
        Assert.All(failedOver.Topics["orders"].Partitions.Values.Where(p => p.Partition != ledByN1.Partition), p => Assert.Equal(1, p.State.LeaderEpoch));

        // Controller A stops (lookupd killed: its election lease is gone once revoked); B takes over and fails n2 over.
        var controllerB = new ClusterController(store, watcher, "lookupd-b", new ControllerOptions());
        using var stopB = new CancellationTokenSource();
        var runB = controllerB.RunAsync(stopB.Token);
        await stopA.CancelAsync();
        await runA;
        await WaitUntil(() => controllerB.IsActive);
        var ledByN2 = failedOver.Topics["orders"].Partitions.Values.Where(p => p.State.Leader == "n2").Select(p => p.Partition).ToList();
        await leases["n2"].RevokeAsync();
        var second = await watcher.WaitForAsync(v => v.Topics["orders"].Partitions.Values.All(p => p.State.Leader == "n3"), CancellationToken.None).WaitAsync(Bound);
        Assert.All(ledByN2, p => Assert.True(second.Topics["orders"].Partitions[p].State.LeaderEpoch >= 2));
        await stopB.CancelAsync();
        await runB;
        foreach (var lease in leases.Values)
        {
            await lease.DisposeAsync();
        }
    }

    [EtcdFact(Timeout = 90_000)]
    public async Task WithNoLiveIsrMemberThePartitionGoesOffline_AndReturnsWithItsIsrMember()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var writer = new ClusterStateWriter(store, Keys);
        await using var n1 = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        var n2 = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        await writer.RegisterNodeAsync(Node("n1"), n1);
        await writer.RegisterNodeAsync(Node("n2"), n2);
        await using var watcher = new ClusterWatcher(store, Keys);
        await watcher.StartAsync(CancellationToken.None);
        Assert.True(await writer.CreateTopicAsync("t", new TopicConfig(1, 2, 1), [["n2", "n1"]], fence: null));
        var view = await watcher.WaitForAsync(v => v.Topics.ContainsKey("t") && v.Topics["t"].Partitions.Count == 1, CancellationToken.None).WaitAsync(Bound);
        // The leader shrank the ISR to itself (n1 lagged), then died.
        var p0 = view.Topics["t"].Partitions[0];
        Assert.NotNull(await writer.UpdatePartitionAsync("t", 0, p0.ModRevision, p0.State with { Isr = ["n2"] }, fence: null));
        Assert.Null(await writer.UpdatePartitionAsync("t", 0, p0.ModRevision, p0.State with { Isr = ["n2", "n1"] }, fence: null)); // stale revision

        using var stop = new CancellationTokenSource();
        var controller = new ClusterController(store, watcher, "c", new ControllerOptions());
        var run = controller.RunAsync(stop.Token);
        await n2.RevokeAsync();
        var offline = await watcher.WaitForAsync(v => v.Topics["t"].Partitions[0].State.IsOffline, CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(["n2"], offline.Topics["t"].Partitions[0].State.Isr); // n1 is out of sync: it must not lead

        await using var back = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        await writer.RegisterNodeAsync(Node("n2"), back);
        var restored = await watcher.WaitForAsync(v => v.Topics["t"].Partitions[0].State.Leader == "n2", CancellationToken.None).WaitAsync(Bound);
        Assert.Equal(3, restored.Topics["t"].Partitions[0].State.LeaderEpoch);
        await stop.CancelAsync();
        await run;
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task StoppingAnActiveControllerResignsItsKey_SoAnotherCandidateNeedNotWaitForTheLease()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        await using var watcher = new ClusterWatcher(store, Keys);
        await watcher.StartAsync(CancellationToken.None);
        using var stop = new CancellationTokenSource();
        // A lease far longer than the test: the key can only be gone because the controller deleted it.
        var controller = new ClusterController(store, watcher, "c", new ControllerOptions { LeaseTtl = TimeSpan.FromMinutes(10) });
        var run = controller.RunAsync(stop.Token);
        await WaitUntil(() => controller.IsActive);
        Assert.Equal("c", (await store.GetAsync(Keys.Controller)).Single?.ValueText);

        await stop.CancelAsync();
        await run.WaitAsync(Bound);
        Assert.False(controller.IsActive);
        Assert.Null((await store.GetAsync(Keys.Controller)).Single);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }
}
