namespace NsqSharp.Chaos.Checking;

/// <summary>
/// Order within one (channel, key): if the enqueue of a was acknowledged before the enqueue of b was
/// invoked, then a's first delivery must come before b's (when both come out). For a producer that
/// publishes a key's values one after another this is "first deliveries in acknowledged order"; values
/// enqueued concurrently have no order to keep. Only values whose enqueue and dequeue both carry the key
/// are checked; redeliveries are not (at-least-once may repeat a value at any time).
/// </summary>
internal sealed class KeyOrderRule
{
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);
    private long _latestInvokeLine;
    private string? _latestInvokeValue;

    /// <summary>A delivery of <paramref name="value"/>; returns the violation it makes, or null.</summary>
    /// <param name="value">The value delivered.</param>
    /// <param name="invokeLine">Line of the value's enqueue invoke.</param>
    /// <param name="ackLine">Line of its enqueue's ok, 0 if not acknowledged (yet).</param>
    public string? Deliver(string value, long invokeLine, long ackLine)
    {
        if (!_delivered.Add(value))
        {
            return null;
        }

        // A delivered value invoked after this one's ack (line _latestInvokeLine > ackLine) came out first.
        // An ack not seen yet is later than every invoke so far, so it can break nothing.
        string? violation = ackLine > 0 && ackLine < _latestInvokeLine
            ? $"value {value} (acknowledged at line {ackLine}) first delivered after value {_latestInvokeValue} (enqueued from line {_latestInvokeLine})"
            : null;
        if (invokeLine > _latestInvokeLine)
        {
            _latestInvokeLine = invokeLine;
            _latestInvokeValue = value;
        }

        return violation;
    }
}
