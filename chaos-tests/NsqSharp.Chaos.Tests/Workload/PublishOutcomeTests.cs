using NsqSharp.Chaos.Workload;
using NsqSharp.Client;
using Xunit;

namespace NsqSharp.Chaos.Tests.Workload;

public sealed class PublishOutcomeTests
{
    [Theory]
    [InlineData("E_NOT_LEADER PUB failed chaos: this node does not lead", PublishOutcome.Fail)]
    [InlineData("E_BAD_TOPIC PUB topic name \"a b\" is not valid", PublishOutcome.Fail)]
    // Written, perhaps committed later: a timeout after the append is no proof it did not happen.
    [InlineData("E_NOT_ENOUGH_REPLICAS PUB failed chaos: not confirmed within 5s", PublishOutcome.Info)]
    [InlineData("E_CLUSTER_UNAVAILABLE PUB failed chaos: the leader did not answer", PublishOutcome.Info)]
    public void OnlyAnswersThatProveNothingWasWritten_AreFailures(string error, PublishOutcome expected) =>
        Assert.Equal(expected, PublishOutcomes.Classify(new NsqServerException(error)));

    [Fact]
    public void LostConnectionsAndTimeouts_AreIndeterminate()
    {
        Assert.Equal(PublishOutcome.Info, PublishOutcomes.Classify(new NsqConnectionException("connection reset")));
        Assert.Equal(PublishOutcome.Info, PublishOutcomes.Classify(new OperationCanceledException()));
        Assert.Equal(PublishOutcome.Info, PublishOutcomes.Classify(new TimeoutException()));
    }
}
