namespace NsqSharp.Nsqd.Broker;

/// <summary>A message read from a partition log, queued in a channel until a client takes it.</summary>
public readonly struct Delivery(int partition, long offset, long timestampNs, ReadOnlyMemory<byte> body, int generation)
{
    public int Partition { get; } = partition;
    public long Offset { get; } = offset;
    public long TimestampNs { get; } = timestampNs;
    public ReadOnlyMemory<byte> Body { get; } = body;

    /// <summary>Cursor generation at read time; an empty or a cursor move bumps it so stale copies are skipped.</summary>
    public int Generation { get; } = generation;
}
