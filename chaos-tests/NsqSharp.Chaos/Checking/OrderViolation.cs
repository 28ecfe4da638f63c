namespace NsqSharp.Chaos.Checking;

public enum OrderViolationKind
{
    /// <summary>An offset delivered again after later ones were delivered (not a retry of the most recent).</summary>
    Backwards,

    /// <summary>An offset delivered for the first time after a higher one: it was skipped, then delivered late.</summary>
    Skip,

    /// <summary>A value first delivered after one of its key whose enqueue began only after it was acknowledged.</summary>
    KeyOrder,
}

/// <summary>One ordering violation; <paramref name="Line"/> is the dequeue that broke the order.</summary>
public sealed record OrderViolation(OrderViolationKind Kind, long Line, string? Channel, int? Partition, string? Key, string Value, string Detail)
{
    public string KindName => Kind switch
    {
        OrderViolationKind.Backwards => "backwards",
        OrderViolationKind.Skip => "skip",
        _ => "key_order",
    };

    /// <summary>One line for summaries: "line 12: channel c partition 0: offset 3 after offset 5 (backwards)".</summary>
    public override string ToString()
    {
        var scope = Partition is { } p ? $"partition {p}" : $"key {Key}";
        return $"line {Line}: channel {Channel ?? "(none)"} {scope}: {Detail} ({KindName})";
    }
}
