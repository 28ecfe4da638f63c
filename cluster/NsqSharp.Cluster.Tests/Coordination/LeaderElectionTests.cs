using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Coordination;

public sealed class LeaderElectionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [EtcdFact(Timeout = 60_000)]
    public async Task OneCandidateWins_TheNextWinsWhenItResigns_WithAHigherTerm()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var storeA = new EtcdMetadataStore(etcd.ClientUrl);
        await using var storeB = new EtcdMetadataStore(etcd.ClientUrl);
        var keys = new ClusterKeys("t");
        await using var leaseA = await storeA.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        await using var leaseB = await storeB.GrantLeaseAsync(TimeSpan.FromSeconds(10));

        await using var a = await new LeaderElection(storeA, keys.Controller).CampaignAsync("lookupd-a", leaseA, CancellationToken.None);
        var bCampaign = new LeaderElection(storeB, keys.Controller).CampaignAsync("lookupd-b", leaseB, CancellationToken.None);
        await Task.Delay(300);
        Assert.False(bCampaign.IsCompleted);
        Assert.Equal("lookupd-a", await new LeaderElection(storeB, keys.Controller).CurrentHolderAsync());

        await a.ResignAsync();
        await using var b = await bCampaign.WaitAsync(Bound);
        Assert.True(b.Term > a.Term);
        Assert.True(a.Lost.IsCancellationRequested);
        Assert.False(b.Lost.IsCancellationRequested);
        Assert.Equal("lookupd-b", await new LeaderElection(storeA, keys.Controller).CurrentHolderAsync());
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task ADeposedLeadersFencedWritesFail_EvenBeforeItNoticesItLost()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var storeA = new EtcdMetadataStore(etcd.ClientUrl);
        await using var storeB = new EtcdMetadataStore(etcd.ClientUrl);
        var keys = new ClusterKeys("t");
        var leaseA = await storeA.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        await using var leaseB = await storeB.GrantLeaseAsync(TimeSpan.FromSeconds(10));
        await using var a = await new LeaderElection(storeA, keys.Controller).CampaignAsync("a", leaseA, CancellationToken.None);
        Assert.True((await storeA.TransactAsync(new Transaction().If(a.Fence).Then(Operation.Put("/state", "by a")))).Succeeded);

        // A's lease ends (as when A is paused past its TTL): its key goes, B wins.
        await leaseA.RevokeAsync();
        await using var b = await new LeaderElection(storeB, keys.Controller).CampaignAsync("b", leaseB, CancellationToken.None).WaitAsync(Bound);

        var late = await storeA.TransactAsync(new Transaction().If(a.Fence).Then(Operation.Put("/state", "late write by a")));
        Assert.False(late.Succeeded);
        Assert.True((await storeB.TransactAsync(new Transaction().If(b.Fence).Then(Operation.Put("/state", "by b")))).Succeeded);
        Assert.Equal("by b", (await storeA.GetAsync("/state")).Single!.ValueText);

        var noticed = new TaskCompletionSource();
        using var registration = a.Lost.Register(() => noticed.TrySetResult());
        await noticed.Task.WaitAsync(Bound);
        await leaseA.DisposeAsync();
    }

    [Fact]
    public void ClusterNamesAreValidated()
    {
        Assert.Throws<FormatException>(() => new ClusterKeys(""));
        Assert.Throws<FormatException>(() => new ClusterKeys("a/b"));
        Assert.Throws<FormatException>(() => new ClusterKeys(new string('x', 65)));
        Assert.Equal("/nsqsharp/prod-1/topics/t/partitions/3", new ClusterKeys("prod-1").Partition("t", 3));
    }
}
