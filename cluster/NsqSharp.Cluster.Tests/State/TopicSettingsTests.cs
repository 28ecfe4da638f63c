using NsqSharp.Cluster.State;
using Xunit;

namespace NsqSharp.Cluster.Tests.State;

public sealed class TopicSettingsTests
{
    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 2, 1, 1)]
    [InlineData(3, 3, 2, 1)]
    [InlineData(7, 3, 2, 1)]
    public void DefaultsFollowTheLiveNodeCount(int liveNodes, int replicas, int minIsr, int partitions)
    {
        var check = TopicSettings.Resolve(TopicRequest.Defaults, liveNodes);
        Assert.True(check.IsValid);
        Assert.Equal(new TopicConfig(partitions, replicas, minIsr), check.Config);
    }

    [Fact]
    public void ExplicitValuesAreKept_AndMinIsrDefaultsFromTheReplicasAsked()
    {
        Assert.Equal(new TopicConfig(8, 2, 2), TopicSettings.Resolve(new TopicRequest(8, 2, 2), 5).Config);
        Assert.Equal(new TopicConfig(1, 4, 2), TopicSettings.Resolve(new TopicRequest(null, 4, null), 5).Config);
        Assert.Equal(new TopicConfig(1, 2, 1), TopicSettings.Resolve(new TopicRequest(null, 2, null), 5).Config);
    }

    [Theory]
    [InlineData(0, null, null, 3, TopicSettingsProblem.InvalidPartitions, "INVALID_ARG_PARTITIONS")]
    [InlineData(1025, null, null, 3, TopicSettingsProblem.InvalidPartitions, "INVALID_ARG_PARTITIONS")]
    [InlineData(null, 0, null, 3, TopicSettingsProblem.InvalidReplicas, "INVALID_ARG_REPLICAS")]
    [InlineData(null, 5, null, 3, TopicSettingsProblem.InvalidReplicas, "INVALID_ARG_REPLICAS replicas 5 > 3 live nodes")]
    [InlineData(null, null, 0, 3, TopicSettingsProblem.InvalidMinIsr, "INVALID_ARG_MIN_ISR")]
    [InlineData(null, 2, 3, 3, TopicSettingsProblem.InvalidMinIsr, "INVALID_ARG_MIN_ISR min_isr 3 > replicas 2")]
    [InlineData(null, null, 2, 1, TopicSettingsProblem.InvalidMinIsr, "INVALID_ARG_MIN_ISR min_isr 2 > replicas 1")]
    [InlineData(null, null, null, 0, TopicSettingsProblem.NoLiveNodes, "NO_LIVE_NODES")]
    public void RefusalsNameTheProblem(int? partitions, int? replicas, int? minIsr, int liveNodes, TopicSettingsProblem problem, string message)
    {
        var check = TopicSettings.Resolve(new TopicRequest(partitions, replicas, minIsr), liveNodes);
        Assert.Equal((problem, message), (check.Problem, check.Message));
        Assert.Null(check.Config);
    }

    [Fact]
    public void RangeChecksNeedNoClusterKnowledge()
    {
        Assert.True(TopicSettings.CheckRanges(new TopicRequest(1024, 9, 9)).IsValid);
        Assert.Equal(TopicSettingsProblem.InvalidMinIsr, TopicSettings.CheckRanges(new TopicRequest(1, 2, 3)).Problem);
    }

    [Fact]
    public void AnExistingTopicSatisfiesARequestForNothingOrForItsOwnValues()
    {
        var config = new TopicConfig(4, 3, 2);
        Assert.True(TopicRequest.Defaults.IsSatisfiedBy(config));
        Assert.True(new TopicRequest(4, 3, 2).IsSatisfiedBy(config));
        Assert.True(new TopicRequest(4, null, null).IsSatisfiedBy(config));
        Assert.False(new TopicRequest(5, null, null).IsSatisfiedBy(config));
        Assert.False(new TopicRequest(null, 2, null).IsSatisfiedBy(config));
        Assert.False(new TopicRequest(null, null, 1).IsSatisfiedBy(config));
    }
}
