namespace NsqSharp.Chaos.Checking;

/// <summary>
/// Order within one (channel, partition), from the offsets on its dequeues in history (file) order:
/// <list type="bullet">
/// <item>the offset delivered last may come again: a retry (redelivery after a timeout or REQ) is allowed;</item>
/// <item>an offset already delivered, other than the last one, is <see cref="OrderViolationKind.Backwards"/>;</item>
/// <item>an offset delivered for the first time below the highest one so far is <see cref="OrderViolationKind.Skip"/>:
///       it was passed over and came later;</item>
/// <item>anything else is a first delivery above every earlier one: in order. Gaps are not violations
///       (a value that never came out is the lost check's business).</item>
/// </list>
/// So the first deliveries of a partition must have increasing offsets.
/// </summary>
internal sealed class PartitionOrderRule
{
    private readonly HashSet<long> _delivered = [];
    private long _highest = long.MinValue;
    private long _last = long.MinValue;

    /// <summary>Returns the violation <paramref name="offset"/> makes, or null when it keeps the order.</summary>
    public (OrderViolationKind Kind, string Detail)? Deliver(long offset)
    {
        (OrderViolationKind, string)? violation = null;
        if (_delivered.Count > 0 && offset != _last)
        {
            if (_delivered.Contains(offset))
            {
                violation = (OrderViolationKind.Backwards, $"offset {offset} again after offset {_last}");
            }
            else if (offset < _highest)
            {
                violation = (OrderViolationKind.Skip, $"offset {offset} first delivered after offset {_highest}");
            }
        }

        _delivered.Add(offset);
        _last = offset;
        _highest = Math.Max(_highest, offset);
        return violation;
    }
}
