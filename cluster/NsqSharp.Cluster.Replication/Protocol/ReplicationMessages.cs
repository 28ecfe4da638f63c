using NsqSharp.Nsqd.Broker.Cursors;

namespace NsqSharp.Cluster.Replication.Protocol;

/// <summary>Message types of the replica fetch protocol (one byte after the frame size).</summary>
public enum ReplicationMessageType : byte
{
    FetchRequest = 1,
    FetchResponse = 2,
    EpochEndRequest = 3,
    EpochEndResponse = 4,
    CursorRequest = 5,
    CursorResponse = 6,
}

/// <summary>
/// A follower asks for batches from <see cref="FetchOffset"/> (its log end, which tells the leader how far it has
/// copied). <see cref="LeaderEpoch"/> is the epoch the follower believes current: a fence both ways.
/// The leader waits up to <see cref="MaxWaitMs"/> for data when it has none past the offset (long poll).
/// </summary>
public sealed record FetchRequest(string Topic, int Partition, string ReplicaId, long LeaderEpoch, long FetchOffset, int MaxBytes, int MaxWaitMs);

/// <summary>Batches as stored (possibly none), and the leader's bounds at the time of the read.</summary>
public sealed record FetchResponse(ReplicationError Error, long LeaderEpoch, long HighWatermark, long LogStart, long LogEnd, ReadOnlyMemory<byte> Batches);

/// <summary>KIP-101: where does <see cref="Epoch"/> end in the leader's log? Asked before fetching in a new epoch.</summary>
public sealed record EpochEndRequest(string Topic, int Partition, string ReplicaId, long LeaderEpoch, long Epoch);

/// <summary>The largest epoch the leader has at or below the one asked, and the offset where it ends.</summary>
public sealed record EpochEndResponse(ReplicationError Error, long Epoch, long EndOffset);

/// <summary>
/// A follower asks for the cursor state of the partition's channels (persisted ones: ephemeral channels are never
/// replicated). <see cref="Known"/> lists the version it holds per channel; the leader answers with every channel
/// whose state has another version, or that is not listed.
/// </summary>
public sealed record CursorRequest(string Topic, int Partition, string ReplicaId, long LeaderEpoch, IReadOnlyList<KnownCursor> Known);

/// <summary>A channel's cursor state version the follower holds (a leader's <see cref="PartitionCursorState.Version"/>).</summary>
public readonly record struct KnownCursor(string Channel, long Version);

/// <summary>
/// The changed channels' states of the partition (the leader's checkpointed state: next read, pending offsets with
/// attempts, in-flight flag and due time). <see cref="More"/>: some changed channels did not fit in this answer; ask
/// again (with the versions just received) for the rest.
/// </summary>
public sealed record CursorResponse(ReplicationError Error, long LeaderEpoch, bool More, IReadOnlyList<ReplicatedCursor> Channels);

/// <summary>One channel's state of the partition (<see cref="PartitionCursorState.Partition"/> is the request's).</summary>
public sealed record ReplicatedCursor(string Channel, PartitionCursorState State);
