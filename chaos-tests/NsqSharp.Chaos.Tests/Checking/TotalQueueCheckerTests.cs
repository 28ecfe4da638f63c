using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Checking;

/// <summary>Each hand-made history and how the total-queue check classifies it.</summary>
public sealed class TotalQueueCheckerTests
{
    [Fact]
    public void EveryAckedValueOutIsValid()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "ok", 1, 20), Enq(0, "invoke", 2, 30), Enq(0, "ok", 2, 40), .. Deq(1, 1, 50), .. Deq(1, 2, 60)]);

        Assert.True(r.Valid);
        Assert.Equal((2, 2, 2, 0L, 0L, 0L, 0L), (r.Attempted, r.Acked, r.Dequeued, r.Lost, r.Unexpected, r.Duplicated, r.Recovered));
        Assert.Equal(8, r.Ops);
    }

    [Fact]
    public void AckedValueNeverDequeuedIsLost()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "ok", 1, 20, ",'node':'n2'"), Enq(0, "invoke", 2, 30), Enq(0, "ok", 2, 40), .. Deq(1, 2, 50)]);

        Assert.False(r.Valid);
        Assert.Equal(1, r.Lost);
        var lost = Assert.Single(r.LostSample);
        Assert.Equal(("1", "n2", 2L), (lost.Value, lost.Node, lost.AckLine));
    }

    [Fact]
    public void ValueNeverEnqueuedIsUnexpected()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "ok", 1, 20), .. Deq(1, 1, 30), .. Deq(1, 99, 40, ",'node':'n3'")]);

        Assert.False(r.Valid);
        Assert.Equal((0L, 1L), (r.Lost, r.Unexpected));
        var unexpected = Assert.Single(r.UnexpectedSample);
        Assert.Equal(("99", "n3"), (unexpected.Value, unexpected.Node));
    }

    [Fact]
    public void ValueDequeuedTwiceIsADuplicateAndValid()
    {
        var r = Check([Enq(0, "invoke", "a", 10), Enq(0, "ok", "a", 20), .. Deq(1, "a", 30), .. Deq(2, "a", 40)]);

        Assert.True(r.Valid);
        Assert.Equal(1, r.Duplicated);
        var dup = Assert.Single(r.DuplicatedSample);
        Assert.Equal(("a", 2, 1), (dup.Value, dup.Dequeued, dup.Attempted));
    }

    [Fact]
    public void IndeterminateEnqueueThatCameOutIsRecoveredAndValid()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "info", 1, 20, ",'error':'timeout'"), .. Deq(1, 1, 30)]);

        Assert.True(r.Valid);
        Assert.Equal((1L, 1L, 0L, 0L), (r.Indeterminate, r.Recovered, r.FailedButDequeued, r.Lost));
    }

    [Fact]
    public void IndeterminateEnqueueThatNeverCameOutIsNotLost()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "info", 1, 20), Enq(1, "invoke", 2, 30)]);

        Assert.True(r.Valid);
        // The info and the invoke never completed are both indeterminate.
        Assert.Equal((2L, 2L, 0L, 0L, 0L), (r.Attempted, r.Indeterminate, r.Acked, r.Lost, r.Recovered));
    }

    [Fact]
    public void FailedEnqueueThatCameOutIsRecoveredAndCountedApart()
    {
        var r = Check([Enq(0, "invoke", 1, 10), Enq(0, "fail", 1, 20, ",'error':'E_PUB_FAILED'"), Enq(0, "invoke", 2, 30), Enq(0, "info", 2, 40), .. Deq(1, 1, 50), .. Deq(1, 2, 60)]);

        Assert.True(r.Valid);
        Assert.Equal((1L, 1L, 2L, 1L), (r.Failed, r.Indeterminate, r.Recovered, r.FailedButDequeued));
    }

    [Fact]
    public void FailedEnqueueThatDidNotComeOutIsNothing()
    {
        var r = Check(Enq(0, "invoke", 1, 10), Enq(0, "fail", 1, 20));

        Assert.True(r.Valid);
        Assert.Equal((1L, 0L, 0L, 0L), (r.Failed, r.Lost, r.Recovered, r.FailedButDequeued));
    }

    [Fact]
    public void IntegerAndStringValuesAreTheSameValue()
    {
        var r = Check([Enq(0, "invoke", 7, 10), Enq(0, "ok", "7", 20), Enq("1", "invoke", "8", 30), Enq(1, "ok", 8, 40), .. Deq(2, "7", 50), .. Deq("2", 8, 60)]);

        Assert.True(r.Valid);
        Assert.Equal((2L, 2L, 0L, 0L), (r.Acked, r.Dequeued, r.Lost, r.Unexpected));
    }

    [Fact]
    public void EmptyDequeueAndOtherOperationsDoNotTouchTheQueue()
    {
        var r = Check(
            DeqInvoke(1, 10),
            "{'process':1,'type':'ok','f':'dequeue','value':null,'time':11}",
            DeqInvoke(1, 12),
            "{'process':1,'type':'fail','f':'dequeue','value':null,'time':13,'error':'timeout'}",
            "{'process':2,'type':'invoke','f':'drain','value':null,'time':14}",
            "{'process':2,'type':'ok','f':'drain','value':3,'time':15}");

        Assert.True(r.Valid);
        Assert.Equal((0L, 0L, 0L), (r.Dequeued, r.Unexpected, r.Attempted));
    }

    [Fact]
    public void EmptyHistoryIsValid()
    {
        var r = Check();

        Assert.True(r.Valid);
        Assert.Equal(0, r.Ops);
    }

    [Fact]
    public void NemesisStartsAreFaultsAndNotQueueOperations()
    {
        var r = Check(
            "{'process':'nemesis','type':'invoke','f':'start','value':'kill-leader','time':5}",
            NemesisLine("start", "kill-leader n2", 6),
            NemesisLine("stop", "kill-leader n2", 7),
            NemesisLine("start", "partition n1 | n2 n3", 8));

        Assert.True(r.Valid);
        Assert.Equal((2L, 4L, 0L), (r.Faults, r.Ops, r.Attempted));
    }

    [Fact]
    public void SamplesAreTheEarliestTwentyInHistoryOrder()
    {
        var lines = new List<string>();
        for (var v = 50; v > 0; v--)
        {
            lines.Add(Enq(0, "invoke", v, 100 - v));
            lines.Add(Enq(0, "ok", v, 100 - v));
        }

        var r = Check([.. lines]);

        Assert.Equal(50, r.Lost);
        Assert.Equal(Enumerable.Range(31, 20).Reverse().Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)), r.LostSample.Select(l => l.Value));
    }
}
