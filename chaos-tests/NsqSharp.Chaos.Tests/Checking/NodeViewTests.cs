using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Checking;

/// <summary>The per-node view: where enqueues were acknowledged, where dequeues came from, whose acknowledgements were lost.</summary>
public sealed class NodeViewTests
{
    [Fact]
    public void SplitBrainShowsAsTheMinorityLeadersAcknowledgementsLost()
    {
        // A partition leaves n1 believing it still leads: it acknowledges 3 and 4, which the majority (n2) never has.
        var r = Check([
            Enq(0, "invoke", 1, 10), Enq(0, "ok", 1, 11, ",'node':'n2'"),
            Enq(1, "invoke", 2, 12), Enq(1, "ok", 2, 13, ",'node':'n2'"),
            NemesisLine("start", "partition n1 | n2 n3", 14),
            Enq(2, "invoke", 3, 15, ",'node':'n1'"), Enq(2, "ok", 3, 16),
            Enq(3, "invoke", 4, 17), Enq(3, "ok", 4, 18, ",'node':'n1'"),
            Enq(0, "invoke", 5, 19), Enq(0, "ok", 5, 20, ",'node':'n2'"),
            NemesisLine("stop", "partition n1 | n2 n3", 21),
            .. Deq(4, 1, 30, ",'node':'n2'"), .. Deq(4, 2, 32, ",'node':'n3'"), .. Deq(4, 5, 34, ",'node':'n2'"),
            .. Deq(5, 77, 36, ",'node':'n1'")]);

        Assert.False(r.Valid);
        Assert.Equal((2L, 1L, 1L), (r.Lost, r.Unexpected, r.Faults));
        Assert.Equal(
            [("n1", 2L, 1L, 2L, 1L), ("n2", 3L, 2L, 0L, 0L), ("n3", 0L, 1L, 0L, 0L)],
            r.Nodes.Select(n => (n.Node, n.Acked, n.Dequeued, n.Lost, n.Unexpected)));
        // The node of the invoke stands in when the ok does not name one.
        Assert.Equal([("3", "n1"), ("4", "n1")], r.LostSample.Select(l => (l.Value, l.Node)));
    }

    [Fact]
    public void OperationsWithoutANodeAreNotInTheView()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "ok", 1, 11)]);

        Assert.Empty(r.Nodes);
        Assert.Null(Assert.Single(r.LostSample).Node);
    }
}
