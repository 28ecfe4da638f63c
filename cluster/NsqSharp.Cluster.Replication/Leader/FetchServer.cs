using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication.Leader;

/// <summary>
/// Serves one follower connection (after its "  R1" magic): fetches and epoch-end queries, one at a time, in order.
/// A fetch records the follower's progress first (its fetch offset is its log end), then returns batches from the
/// log end bound, waiting up to the asked time when there are none yet.
/// </summary>
public sealed class FetchServer(IReplicaLookup replicas, ILogger logger)
{
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

    private async Task ServeFetchAsync(Stream stream, FetchRequest request, CancellationToken ct)
    {
        if (Resolve(request.Topic, request.Partition, request.ReplicaId, request.LeaderEpoch, out var leader) is { } error)
        {
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(error, leader?.Epoch ?? -1, -1, -1, -1, default), ct).ConfigureAwait(false);
            return;
        }

        var log = leader!.Log;
        if (request.FetchOffset > log.LogEnd || request.FetchOffset < log.StartOffset || request.MaxBytes <= 0 || request.MaxWaitMs < 0)
        {
            var code = request.MaxBytes <= 0 || request.MaxWaitMs < 0 ? ReplicationError.InvalidRequest : ReplicationError.OffsetOutOfRange;
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(code, leader.Epoch, log.HighWatermark, log.StartOffset, log.LogEnd, default), ct).ConfigureAwait(false);
            return;
        }

        leader.RecordFetch(request.ReplicaId, request.FetchOffset);
        if (request.FetchOffset >= log.LogEnd && request.MaxWaitMs > 0)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(Math.Min(request.MaxWaitMs, 30_000));
            try
            {
                await log.WaitForDataAsync(request.FetchOffset, LogBound.LogEnd, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
            }
        }

        RawBatches? batches = null;
        try
        {
            batches = log.ReadRawBatches(request.FetchOffset, Math.Min(request.MaxBytes, ReplicationCodec.MaxFetchBytes), LogBound.LogEnd);
            await ReplicationCodec.WriteAsync(stream, new FetchResponse(ReplicationError.None, leader.Epoch, log.HighWatermark, log.StartOffset, log.LogEnd, batches.Bytes), ct).ConfigureAwait(false);
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
