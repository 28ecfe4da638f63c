namespace NsqSharp.Chaos.History;

/// <summary>The optional fields of a history line; unset ones are not written.</summary>
public readonly record struct OpDetails
{
    /// <summary>The node that served the operation ("n1"); the checker's per-node view counts by it.</summary>
    public string? Node { get; init; }

    public int? Partition { get; init; }

    /// <summary>The message's position in its partition (dequeues on ordered channels): the order check uses it.</summary>
    public long? Offset { get; init; }

    public string? Channel { get; init; }

    /// <summary>The ordering key, on the enqueue and on its dequeues: the per-key order check uses it.</summary>
    public string? Key { get; init; }

    /// <summary>Why an operation failed or is indeterminate, for people reading the history.</summary>
    public string? Error { get; init; }
}
