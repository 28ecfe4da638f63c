namespace NsqSharp.Chaos.Checking;

/// <summary>
/// The total-queue verdict. Counts are of values with multiplicity (a value enqueued twice counts twice);
/// in the usual history every value is enqueued once and they are plain numbers of values.
/// </summary>
public sealed record CheckResult
{
    /// <summary>No acknowledged value lost, nothing invented, no order broken. Duplicates are allowed (at-least-once).</summary>
    public bool Valid => Lost == 0 && Unexpected == 0 && OrderViolations == 0;

    /// <summary>History lines read, nemesis lines included.</summary>
    public long Ops { get; init; }

    /// <summary>Enqueue invokes.</summary>
    public long Attempted { get; init; }

    /// <summary>Enqueues completed ok.</summary>
    public long Acked { get; init; }

    /// <summary>Enqueues completed fail.</summary>
    public long Failed { get; init; }

    /// <summary>Enqueues completed info, or never completed.</summary>
    public long Indeterminate { get; init; }

    /// <summary>Dequeues completed ok with a value.</summary>
    public long Dequeued { get; init; }

    /// <summary>Acknowledged enqueues that never came out.</summary>
    public long Lost { get; init; }

    /// <summary>Values that came out but were never enqueued at all.</summary>
    public long Unexpected { get; init; }

    /// <summary>Deliveries beyond the number of enqueue attempts of the value.</summary>
    public long Duplicated { get; init; }

    /// <summary>Values that came out although their enqueue was indeterminate or failed.</summary>
    public long Recovered { get; init; }

    /// <summary>The part of <see cref="Recovered"/> whose enqueue said fail: allowed, but worth a look.</summary>
    public long FailedButDequeued { get; init; }

    /// <summary>Dequeues that carried a partition and an offset, so the partition order rule saw them.</summary>
    public long OrderedDequeues { get; init; }

    /// <summary>Dequeues that carried the same key as their enqueue, so the key order rule saw them.</summary>
    public long KeyedDequeues { get; init; }

    public long OrderViolations { get; init; }

    /// <summary>Nemesis "start" lines.</summary>
    public long Faults { get; init; }

    /// <summary>Per node, by name (ordinal order).</summary>
    public IReadOnlyList<NodeView> Nodes { get; init; } = [];

    public IReadOnlyList<LostValue> LostSample { get; init; } = [];

    public IReadOnlyList<UnexpectedValue> UnexpectedSample { get; init; } = [];

    public IReadOnlyList<DuplicatedValue> DuplicatedSample { get; init; } = [];

    public IReadOnlyList<OrderViolation> OrderViolationSample { get; init; } = [];
}

/// <summary>
/// What one node did, from the "node" fields: enqueues it acknowledged, dequeues it served, and how many of
/// its acknowledged values were lost (split brain shows up as a node whose acknowledgements vanished).
/// </summary>
public sealed record NodeView(string Node, long Acked, long Dequeued, long Lost, long Unexpected);

/// <summary>An acknowledged value that never came out; <see cref="Node"/> acknowledged it, if the history says.</summary>
public sealed record LostValue(string Value, string? Node, long AckLine);

/// <summary>A value that came out but was never enqueued; <see cref="Node"/> delivered it, if the history says.</summary>
public sealed record UnexpectedValue(string Value, string? Node, long Line);

public sealed record DuplicatedValue(string Value, int Dequeued, int Attempted);
