using NsqSharp.Chaos.History;

namespace NsqSharp.Chaos.Checking;

/// <summary>
/// Applies <see cref="PartitionOrderRule"/> to dequeues carrying a partition and an offset, and
/// <see cref="KeyOrderRule"/> to dequeues carrying a key, each per channel (a missing channel is one channel).
/// </summary>
internal sealed class OrderChecker
{
    private const int SampleSize = 20;

    private readonly Dictionary<(string Channel, int Partition), PartitionOrderRule> _partitions = [];
    private readonly Dictionary<(string Channel, string Key), KeyOrderRule> _keys = [];

    public long OrderedDequeues { get; private set; }

    public long KeyedDequeues { get; private set; }

    public long Violations { get; private set; }

    public List<OrderViolation> Sample { get; } = [];

    /// <param name="dequeue">An ok dequeue with a value.</param>
    /// <param name="tally">That value's tally, as it stands when the dequeue is read.</param>
    public void Observe(HistoryOp dequeue, in ValueTally tally)
    {
        var channel = dequeue.Channel ?? "";
        var value = dequeue.Value!;
        if (dequeue is { Partition: { } partition, Offset: { } offset })
        {
            OrderedDequeues++;
            if (!_partitions.TryGetValue((channel, partition), out var rule))
            {
                _partitions.Add((channel, partition), rule = new PartitionOrderRule());
            }

            if (rule.Deliver(offset) is { } v)
            {
                Record(new OrderViolation(v.Kind, dequeue.Line, dequeue.Channel, partition, dequeue.Key, value, v.Detail));
            }
        }

        // Both sides must carry the same key: a dequeue's key alone says nothing about enqueue order.
        if (dequeue.Key is { } key && tally.Key == key && tally.InvokeLine > 0)
        {
            KeyedDequeues++;
            if (!_keys.TryGetValue((channel, key), out var rule))
            {
                _keys.Add((channel, key), rule = new KeyOrderRule());
            }

            if (rule.Deliver(value, tally.InvokeLine, tally.AckLine) is { } detail)
            {
                Record(new OrderViolation(OrderViolationKind.KeyOrder, dequeue.Line, dequeue.Channel, null, key, value, detail));
            }
        }
    }

    private void Record(OrderViolation violation)
    {
        Violations++;
        if (Sample.Count < SampleSize)
        {
            Sample.Add(violation);
        }
    }
}
