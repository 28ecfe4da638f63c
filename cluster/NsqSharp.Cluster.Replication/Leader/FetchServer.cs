using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication.Leader;

/// <summary>
/// Serves one follower connection (after its "  R1" magic): fetches, epoch-end queries and cursor requests, one at a
/// time, in order. A fetch records the follower's progress first (its fetch offset is its log end), then returns
/// batches from the log end bound, waiting up to the asked time when there are none yet. A cursor request answers
/// the checkpointed cursor state of every channel whose version the follower does not hold (from
/// <paramref name="cursors"/>; none without it), within <see cref="ReplicationCodec.MaxCursorBytes"/>.
/// </summary>
public sealed class FetchServer(IReplicaLookup replicas, ILogger logger, IChannelCursors? cursors = null)
{
    private long _lastCutWarning = long.MinValue / 2;

    /// <summary>Budget of one cursor response's body (tests make it small to see paging and cuts).</summary>
    public int MaxCursorBytes { get; init; } = ReplicationCodec.MaxCursorBytes;

    public async Task ServeAsync(Stream stream, CancellationToken ct)
    {
        try
        {
            while (await ReplicationCodec.ReadFrameAsync(stream, ct).ConfigureAwait(false) is { } frame)
            {
                switch (frame.Type)
                {
                    case ReplicationMessageType.FetchRequest:
                        await ServeFetchAsync(stream, ReplicationCodec.ReadFetchRequest(frame.Body), ct).ConfigureAwait(false);
                        break;
                    case ReplicationMessageType.EpochEndRequest:
                        await ReplicationCodec.WriteAsync(stream, EpochEnd(ReplicationCodec.ReadEpochEndRequest(frame.Body)), ct).ConfigureAwait(false);
                        break;
                    case ReplicationMessageType.CursorRequest:
                        await ReplicationCodec.WriteAsync(stream, Cursors(ReplicationCodec.ReadCursorRequest(frame.Body)), ct).ConfigureAwait(false);
                        break;
                    default:
                        throw new InvalidDataException($"unexpected replication message type {frame.Type}");
                }
            }
        }
        catch (InvalidDataException e)
        {
            logger.LogWarning("replication connection closed: {Reason}", e.Message);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private EpochEndResponse EpochEnd(EpochEndRequest request)
    {
        if (Resolve(request.Topic, request.Partition, request.ReplicaId, request.LeaderEpoch, out var leader) is { } error)
        {
            return new EpochEndResponse(error, -1, -1);
        }

        var end = leader!.Log.EndOffsetForEpoch(request.Epoch);
        return new EpochEndResponse(ReplicationError.None, end.Epoch, end.EndOffset);
    }

    /// <summary>
    /// The changed channels' states, as many as fit in <see cref="ReplicationCodec.MaxCursorBytes"/> (More when some
    /// were left for the next request). The first always goes: a state bigger than the whole budget (a pending set
    /// beyond about 1.3 million messages) is cut at an offset instead, keeping the lowest pending offsets and moving
    /// the next read offset back to the first one left out, so the follower reads the rest again: redelivered, never
    /// lost.
    /// </summary>
    private CursorResponse Cursors(CursorRequest request)
    {
        if (Resolve(request.Topic, request.Partition, request.ReplicaId, request.LeaderEpoch, out var leader) is { } error)
        {
            return new CursorResponse(error, leader?.Epoch ?? -1, false, []);
        }

        var channels = new List<ReplicatedCursor>();
        var more = false;
        if (cursors is not null)
        {
            var known = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var k in request.Known)
            {
                known[k.Channel] = k.Version;
            }

            long budget = Math.Min(MaxCursorBytes, ReplicationCodec.MaxCursorBytes) - 64;
            foreach (var name in cursors.Channels(request.Topic))
            {
                if (cursors.Export(request.Topic, name, request.Partition, known.GetValueOrDefault(name)) is not { } state)
                {
                    continue;
                }

                var size = ReplicationCodec.CursorSize(name, state);
                if (size > budget)
                {
                    if (channels.Count > 0)
                    {
                        more = true; // the next request gets it
                        continue;
                    }

                    state = Cut(state, ReplicationCodec.CursorEntriesFitting(name, budget));
                    size = ReplicationCodec.CursorSize(name, state);
                    WarnCut(request, name, state);
                }

                channels.Add(new ReplicatedCursor(name, state));
                budget -= size;
            }
        }

        return new CursorResponse(ReplicationError.None, leader!.Epoch, more, channels);
    }

    /// <summary>The lowest <paramref name="maxEntries"/> pending offsets, and the next read offset moved back to the
    /// first offset left out (everything from there is read again by the follower's copy once it leads).</summary>
    public static PartitionCursorState Cut(PartitionCursorState state, int maxEntries)
    {
        if (maxEntries >= state.Pending.Count)
        {
            return state;
        }

        var offsets = state.Pending.Keys.ToArray();
        Array.Sort(offsets);
        var cut = new PartitionCursorState(state.Partition) { Version = state.Version, NextRead = Math.Min(state.NextRead, offsets[maxEntries]) };
        cut.ResetPending(maxEntries);
        for (var i = 0; i < maxEntries; i++)
        {
            cut.Pending.Add(offsets[i], state.Pending[offsets[i]]);
        }

        return cut;
    }

    private void WarnCut(CursorRequest request, string channel, PartitionCursorState cut)
    {
        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _lastCutWarning) >= 60_000)
        {
            Interlocked.Exchange(ref _lastCutWarning, now);
            logger.LogWarning("{Topic}/{Partition}: channel {Channel}'s pending set is too big to replicate whole; {Replica} gets its first {Count} pending messages and reads again from offset {NextRead}",
                request.Topic, request.Partition, channel, request.ReplicaId, cut.Pending.Count, cut.NextRead);
        }
    }

    private async Task ServeFetchAsync(Stream stream, FetchRequest request, CancellationToken ct)
    {
        if (Resolve(request.Topic, request.Partition, request.ReplicaId, request.LeaderEpoch, out var leader) is { } error)
        {
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(error, leader?.Epoch ?? -1, -1, -1, -1, default), ct).ConfigureAwait(false);
            return;
        }

        var log = leader!.Log;
        // Followers get what is written, synced or not (LogBound.Written): the leader's fsync overlaps their fetch.
        if (request.FetchOffset > log.WrittenEnd || request.FetchOffset < log.StartOffset || request.MaxBytes <= 0 || request.MaxWaitMs < 0)
        {
            var code = request.MaxBytes <= 0 || request.MaxWaitMs < 0 ? ReplicationError.InvalidRequest : ReplicationError.OffsetOutOfRange;
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(code, leader.Epoch, log.HighWatermark, log.StartOffset, log.WrittenEnd, default), ct).ConfigureAwait(false);
            return;
        }

        leader.RecordFetch(request.ReplicaId, request.FetchOffset);
        if (request.FetchOffset >= log.WrittenEnd && request.MaxWaitMs > 0)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(Math.Min(request.MaxWaitMs, 30_000));
            try
            {
                await log.WaitForDataAsync(request.FetchOffset, LogBound.Written, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
        }

        RawBatches? batches = null;
        try
        {
            batches = log.ReadRawBatches(request.FetchOffset, Math.Min(request.MaxBytes, ReplicationCodec.MaxFetchBytes), LogBound.Written);
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(ReplicationError.None, leader.Epoch, log.HighWatermark, log.StartOffset, log.WrittenEnd, batches.Bytes), ct).ConfigureAwait(false);
        }
        catch (IOException e) when (log.Health is not null)
        {
            logger.LogError("{Topic}/{Partition}: cannot serve a fetch: {Reason}", request.Topic, request.Partition, e.Message);
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(ReplicationError.StorageError, leader.Epoch, -1, -1, -1, default), ct).ConfigureAwait(false);
        }
        finally
        {
            batches?.Dispose();
        }
    }

    private ReplicationError? Resolve(string topic, int partition, string replicaId, long epoch, out PartitionLeader? leader)
    {
        leader = replicas.FindLeader(topic, partition);
        if (leader is null)
        {
            return replicas.HoldsPartition(topic, partition) ? ReplicationError.NotLeader : ReplicationError.UnknownPartition;
        }

        var check = leader.Check(replicaId, epoch);
        return check == ReplicationError.None ? null : check;
    }
}
