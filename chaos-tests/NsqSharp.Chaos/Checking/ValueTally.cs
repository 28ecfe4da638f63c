namespace NsqSharp.Chaos.Checking;

/// <summary>
/// What the history says about one value: how often its enqueue was attempted and how each attempt
/// ended, how often it came out, and where. Counts, not flags: a value may be enqueued more than once.
/// </summary>
internal struct ValueTally
{
    public int Attempts;
    public int Acked;
    public int Failed;

    /// <summary>Info completions plus invokes never completed by the end of the history.</summary>
    public int Indeterminate;
    public int Dequeued;

    /// <summary>The first line that mentions the value: samples are the earliest ones, so they are deterministic.</summary>
    public long FirstLine;
    public long InvokeLine;
    public long AckLine;

    /// <summary>The node that acknowledged the first acked enqueue: for a lost value, the node that lied.</summary>
    public string? AckNode;
    public string? DequeueNode;

    /// <summary>The ordering key of the first enqueue that had one.</summary>
    public string? Key;
}
