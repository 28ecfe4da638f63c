using NsqSharp.Cluster.State;
using Xunit;

namespace NsqSharp.Cluster.Tests.State;

public sealed class PlacementTests
{
    [Theory]
    [InlineData(3, 1, 3)]
    [InlineData(3, 3, 3)]
    [InlineData(3, 6, 2)]
    [InlineData(5, 10, 3)]
    [InlineData(4, 7, 1)]
    public void ReplicasAndLeadersSpreadEvenly(int nodeCount, int partitions, int replicas)
    {
        var nodes = Enumerable.Range(1, nodeCount).Select(i => "n" + i).ToArray();
        var placed = Placement.Assign(nodes, partitions, replicas, []);

        Assert.Equal(partitions, placed.Count);
        Assert.All(placed, set =>
        {
            Assert.Equal(replicas, set.Count);
            Assert.Equal(replicas, set.Distinct().Count());
        });
        var perNode = nodes.Select(n => placed.Count(s => s.Contains(n))).ToArray();
        Assert.True(perNode.Max() - perNode.Min() <= 1, "replicas per node " + string.Join(",", perNode));
        var leaders = nodes.Select(n => placed.Count(s => s[0] == n)).ToArray();
        Assert.True(leaders.Max() - leaders.Min() <= 1, "leaders per node " + string.Join(",", leaders));
    }

    [Fact]
    public void RandomShapesStayBalanced()
    {
        var rng = new Random(20261201);
        for (int round = 0; round < 500; round++)
        {
            int n = rng.Next(1, 8), partitions = rng.Next(1, 25), replicas = rng.Next(1, n + 1);
            ReplicasAndLeadersSpreadEvenly(n, partitions, replicas);
        }
    }

    [Fact]
    public void ExistingLoadSteersNewTopics()
    {
        var nodes = new[] { "a", "b", "c" };
        var first = Placement.Assign(nodes, 1, 1, []);
        var existing = first.Select(r => new PartitionState(r[0], 1, r, r)).ToList();
        var second = Placement.Assign(nodes, 1, 1, existing);
        Assert.NotEqual(first[0][0], second[0][0]);
        existing.AddRange(second.Select(r => new PartitionState(r[0], 1, r, r)));
        var third = Placement.Assign(nodes, 1, 1, existing);
        Assert.DoesNotContain(third[0][0], new[] { first[0][0], second[0][0] });
    }

    [Fact]
    public void MoreReplicasThanNodesIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Placement.Assign(["a", "b"], 1, 3, []));
    }
}

public sealed class LeaderChoiceTests
{
    private static readonly PartitionState Healthy = new("a", 4, ["a", "b", "c"], ["a", "b", "c"]);

    [Fact]
    public void ALiveLeaderStays()
    {
        Assert.Null(LeaderChoice.Decide(Healthy, new HashSet<string> { "a", "c" }, allowUncleanElection: false));
    }

    [Fact]
    public void ADeadLeaderIsReplacedByTheFirstLiveIsrMember_WithTheEpochBumped()
    {
        var next = LeaderChoice.Decide(Healthy, new HashSet<string> { "b", "c" }, allowUncleanElection: false)!;
        Assert.Equal("b", next.Leader);
        Assert.Equal(5, next.LeaderEpoch);
        Assert.Equal(["b", "c"], next.Isr);
        Assert.Equal(Healthy.Replicas, next.Replicas);
    }

    [Fact]
    public void AnOutOfSyncReplicaNeverLeadsInACleanElection()
    {
        var state = Healthy with { Isr = ["a"] };
        var next = LeaderChoice.Decide(state, new HashSet<string> { "b", "c" }, allowUncleanElection: false)!;
        Assert.True(next.IsOffline);
        Assert.Equal(["a"], next.Isr);
        Assert.Null(LeaderChoice.Decide(next, new HashSet<string> { "b", "c" }, allowUncleanElection: false));

        var back = LeaderChoice.Decide(next, new HashSet<string> { "a", "b" }, allowUncleanElection: false)!;
        Assert.Equal("a", back.Leader);
        Assert.Equal(next.LeaderEpoch + 1, back.LeaderEpoch);
    }

    [Fact]
    public void UncleanElectionTakesAnyLiveReplicaWhenTheOperatorAllowsIt()
    {
        var state = Healthy with { Isr = ["a"] };
        var next = LeaderChoice.Decide(state, new HashSet<string> { "c" }, allowUncleanElection: true)!;
        Assert.Equal("c", next.Leader);
        Assert.Equal(["c"], next.Isr);
    }
}
