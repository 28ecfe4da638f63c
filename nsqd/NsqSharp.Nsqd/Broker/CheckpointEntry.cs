namespace NsqSharp.Nsqd.Broker;

/// <summary>One unacked offset as checkpointed: attempts so far, and its due time if deferred (0 = redeliver now).</summary>
public readonly record struct CheckpointEntry(long Offset, ushort Attempts, long DueMs);
