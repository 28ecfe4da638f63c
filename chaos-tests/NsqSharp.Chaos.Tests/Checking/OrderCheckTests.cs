using NsqSharp.Chaos.Checking;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Checking;

/// <summary>The partition offset rule and the per-key rule on ordered channels.</summary>
public sealed class OrderCheckTests
{
    [Fact]
    public void IncreasingOffsetsWithARetryOfTheLastAreInOrder()
    {
        var r = Check([.. Enqueued(1, 2, 3), .. Delivered(("1", 0), ("2", 1), ("2", 1), ("3", 2))]);

        Assert.True(r.Valid);
        Assert.Equal((4L, 0L, 1L), (r.OrderedDequeues, r.OrderViolations, r.Duplicated));
    }

    [Fact]
    public void GapsAreNotOrderViolations()
    {
        var r = Check([.. Enqueued(1, 3), .. Delivered(("1", 0), ("3", 2))]);

        Assert.True(r.Valid);
    }

    [Fact]
    public void GoingBackToAnOlderOffsetIsBackwards()
    {
        var r = Check([.. Enqueued(1, 2, 3), .. Delivered(("1", 0), ("2", 1), ("3", 2), ("2", 1))]);

        Assert.False(r.Valid);
        Assert.Equal((0L, 1L), (r.Lost, r.OrderViolations));
        var v = Assert.Single(r.OrderViolationSample);
        Assert.Equal((OrderViolationKind.Backwards, "backwards", "2", "c", 0, 14L), (v.Kind, v.KindName, v.Value, v.Channel, v.Partition, v.Line));
        Assert.Equal("line 14: channel c partition 0: offset 1 again after offset 2 (backwards)", v.ToString());
    }

    [Fact]
    public void AnOffsetPassedOverAndDeliveredLaterIsASkip()
    {
        var r = Check([.. Enqueued(1, 2, 3), .. Delivered(("1", 0), ("3", 2), ("2", 1))]);

        Assert.False(r.Valid);
        var v = Assert.Single(r.OrderViolationSample);
        Assert.Equal((OrderViolationKind.Skip, "2"), (v.Kind, v.Value));
        Assert.Equal("offset 1 first delivered after offset 2", v.Detail);
    }

    [Fact]
    public void PartitionsAndChannelsAreOrderedSeparately()
    {
        var r = Check([
            .. Enqueued(1, 2, 3, 4),
            .. Deq(1, 1, 100, ",'channel':'c','partition':0,'offset':5"),
            .. Deq(1, 2, 110, ",'channel':'c','partition':1,'offset':0"),
            .. Deq(2, 1, 120, ",'channel':'d','partition':0,'offset':5"),
            .. Deq(2, 3, 130, ",'channel':'c','partition':0,'offset':6"),
            .. Deq(2, 4, 140, ",'partition':0,'offset':1")]);

        Assert.True(r.Valid);
        Assert.Equal(5, r.OrderedDequeues);
    }

    [Fact]
    public void KeyedValuesFirstDeliveredInAcknowledgedOrderAreInOrder()
    {
        var r = Check([.. KeyedEnqueues(("a", "k"), ("b", "j"), ("c", "k")), .. KeyedDequeues(("a", "k"), ("b", "j"), ("a", "k"), ("c", "k"))]);

        Assert.True(r.Valid);
        Assert.Equal((4L, 0L), (r.KeyedDequeues, r.OrderViolations));
    }

    [Fact]
    public void KeyedValueDeliveredAfterALaterEnqueueOfItsKeyIsAKeyOrderViolation()
    {
        var r = Check([.. KeyedEnqueues(("a", "k"), ("b", "k"), ("c", "j")), .. KeyedDequeues(("b", "k"), ("c", "j"), ("a", "k"))]);

        Assert.False(r.Valid);
        var v = Assert.Single(r.OrderViolationSample);
        Assert.Equal((OrderViolationKind.KeyOrder, "key_order", "a", "k", (int?)null), (v.Kind, v.KindName, v.Value, v.Key, v.Partition));
    }

    [Fact]
    public void ConcurrentEnqueuesOfAKeyHaveNoOrderToKeep()
    {
        // b is invoked before a's ok: either order of delivery is fine.
        var r = Check([
            Enq(0, "invoke", "a", 10, ",'key':'k'"),
            Enq(1, "invoke", "b", 11, ",'key':'k'"),
            Enq(0, "ok", "a", 12),
            Enq(1, "ok", "b", 13),
            .. KeyedDequeues(("b", "k"), ("a", "k"))]);

        Assert.True(r.Valid);
    }

    [Fact]
    public void KeysAreOnlyCheckedWhenBothSidesCarryThem()
    {
        // The dequeues carry no key: out of key order, but nothing to check it against.
        var r = Check([.. KeyedEnqueues(("a", "k"), ("b", "k")), .. Deq(1, "b", 100), .. Deq(1, "a", 110)]);

        Assert.True(r.Valid);
        Assert.Equal(0, r.KeyedDequeues);
    }

    /// <summary>Process 0 enqueues each value in turn and each is acknowledged.</summary>
    private static IEnumerable<string> Enqueued(params int[] values) =>
        values.SelectMany((v, i) => new[] { Enq(0, "invoke", v, i * 2), Enq(0, "ok", v, (i * 2) + 1) });

    /// <summary>Process 1 dequeues (value, offset) pairs from channel c, partition 0.</summary>
    private static IEnumerable<string> Delivered(params (string Value, long Offset)[] deliveries) =>
        deliveries.SelectMany((d, i) => Deq(1, d.Value, 100 + (i * 2), $",'channel':'c','partition':0,'offset':{d.Offset}"));

    private static IEnumerable<string> KeyedEnqueues(params (string Value, string Key)[] values) =>
        values.SelectMany((v, i) => new[] { Enq(0, "invoke", v.Value, i * 2, $",'key':'{v.Key}'"), Enq(0, "ok", v.Value, (i * 2) + 1) });

    private static IEnumerable<string> KeyedDequeues(params (string Value, string Key)[] values) =>
        values.SelectMany((v, i) => Deq(1, v.Value, 100 + (i * 2), $",'key':'{v.Key}'"));
}
