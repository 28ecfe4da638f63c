namespace NsqSharp.Chaos.Checking;

/// <summary>
/// Keeps the <c>capacity</c> items with the smallest order (history line) out of any number offered, so
/// samples are the earliest ones whatever order a dictionary is walked in.
/// </summary>
internal sealed class FirstSamples<T>(int capacity)
{
    // A max-heap on the order (priorities negated): the root is the latest kept item, the one to drop.
    private readonly PriorityQueue<(long Order, T Item), long> _heap = new();

    public void Offer(long order, T item)
    {
        if (_heap.Count < capacity)
        {
            _heap.Enqueue((order, item), -order);
        }
        else if (capacity > 0 && order < _heap.Peek().Order)
        {
            _heap.DequeueEnqueue((order, item), -order);
        }
    }

    public IReadOnlyList<T> ToList() => _heap.UnorderedItems.Select(e => e.Element).OrderBy(e => e.Order).Select(e => e.Item).ToList();
}
