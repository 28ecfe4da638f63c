namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Counts truncations of one log. <see cref="PartitionLog.TruncateToAsync"/> advances it after lowering the bounds
/// readers read and before it changes any file, so a reader that snapshots it first (<see cref="Snapshot"/>) and still
/// sees the same value when done knows the truncation did not overtake it.
/// </summary>
internal sealed class ReadGenerationCounter
{
    private long _value;

    public long Value => Volatile.Read(ref _value);

    public ReadGeneration Snapshot() => new(this, Volatile.Read(ref _value));

    public void Advance() => Interlocked.Increment(ref _value);
}

/// <summary>A reader's snapshot of its log's <see cref="ReadGenerationCounter"/>; default = never overtaken (recovery).</summary>
internal readonly struct ReadGeneration
{
    private readonly ReadGenerationCounter? _counter;
    private readonly long _seen;

    public ReadGeneration(ReadGenerationCounter counter, long seen)
    {
        _counter = counter;
        _seen = seen;
    }

    /// <summary>False once a truncation started after the snapshot: what was read since may be gone or rewritten.</summary>
    public bool IsCurrent => _counter is null || _counter.Value == _seen;
}
