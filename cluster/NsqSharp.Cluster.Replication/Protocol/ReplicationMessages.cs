namespace NsqSharp.Cluster.Replication.Protocol;

/// <summary>Message types of the replica fetch protocol (one byte after the frame size).</summary>
public enum ReplicationMessageType : byte
{
    FetchRequest = 1,
    FetchResponse = 2,
    EpochEndRequest = 3,
    EpochEndResponse = 4,
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
