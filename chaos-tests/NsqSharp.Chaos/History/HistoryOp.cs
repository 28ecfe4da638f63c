namespace NsqSharp.Chaos.History;

/// <summary>
/// One parsed history line. <see cref="Process"/> and <see cref="Value"/> are kept as text whether the
/// JSON had a string or an integer (1 and "1" are the same process, 42 and "42" the same value).
/// <see cref="Line"/> is the 1-based line number in the file, for error messages and samples;
/// <see cref="Time"/> is monotonic nanoseconds (any origin: reports are relative to the earliest line).
/// </summary>
public sealed record HistoryOp(long Line, string Process, OpType Type, string F, string? Value, long Time)
{
    /// <summary>The node that served the operation, when the harness knows it.</summary>
    public string? Node { get; init; }

    public int? Partition { get; init; }

    /// <summary>Position in the partition, for dequeues on ordered channels.</summary>
    public long? Offset { get; init; }

    public string? Channel { get; init; }

    /// <summary>The ordering key, when the workload publishes with one.</summary>
    public string? Key { get; init; }

    public string? Error { get; init; }

    public bool IsNemesis => Process == HistoryNames.Nemesis;
}
