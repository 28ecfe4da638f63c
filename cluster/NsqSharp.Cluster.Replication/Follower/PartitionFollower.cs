using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication.Follower;

/// <summary>
/// The follower side of one partition in one leader epoch: copies the leader's log. On every (re)connection it
/// first asks where its own latest epoch ends in the leader's log and truncates there (Kafka KIP-101 with KIP-279's
/// rule), so a replica that led or followed an older epoch drops what the new leader never had; then it fetches
/// from its log end, appends the batches verbatim (fsynced before the next fetch, which is what tells the leader
/// they are on disk) and moves its own high watermark to min(leader's, own log end).
/// A fenced or not-leader answer ends the run: the partition state changed, and the agent starts the next role.
/// With <paramref name="cursors"/>, it also replicates the channels' cursors: right after the first fetch of each
/// connection and then every <see cref="ReplicationSettings.CursorSyncInterval"/>, between fetches on the same
/// connection (so under the same epoch fence), it asks for the cursor state of every channel whose version it does not
/// hold and replaces its copies' cursors of the partition with the answers.
/// </summary>
public sealed class PartitionFollower(string topic, PartitionLog log, string selfId, long leaderEpoch, string leaderHost, int leaderPort,
    ReplicationSettings settings, ILogger logger, IChannelCursors? cursors = null)
{
    /// <summary>Cursor requests per sync at most (each applies at least one channel unless none changed).</summary>
    private const int MaxCursorRounds = 16;

    private static readonly TimeSpan PersistentFailure = TimeSpan.FromSeconds(10);

    private long _fetches;
    private long _cursorsApplied;
    private long _failingSince;
    private long _fetchesAtFailure;
    private long _lastWarning;

    public string Topic { get; } = topic;

    public PartitionLog Log { get; } = log;

    public long LeaderEpoch { get; } = leaderEpoch;

    public string Leader => $"{leaderHost}:{leaderPort}";

    /// <summary>Fetch responses handled (diagnostics).</summary>
    public long Fetches => Interlocked.Read(ref _fetches);

    /// <summary>Channel cursor states received from the leader and applied to the local copies (diagnostics, tests).</summary>
    public long CursorsApplied => Interlocked.Read(ref _cursorsApplied);

    /// <summary>Why the last run ended, when it ended on an answer rather than cancellation.</summary>
    public ReplicationError? StopReason { get; private set; }

    /// <summary>Replicates until cancelled or until the leader says this epoch is over (returns that answer).</summary>
    public async Task<ReplicationError> RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var stop = await RunConnectionAsync(ct).ConfigureAwait(false);
                if (stop is { } reason)
                {
                    StopReason = reason;
                    logger.LogInformation("{Topic}/{Partition}: stopped following {Leader} in epoch {Epoch}: {Reason}", Topic, Log.Partition, Leader, LeaderEpoch, reason);
                    return reason;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidDataException or OperationCanceledException or TimeoutException)
            {
                // Expected now and then (a leader restarting); a follower that keeps failing must say so, not stall quietly.
                var now = Stopwatch.GetTimestamp();
                _failingSince = _failingSince == 0 || Interlocked.Read(ref _fetches) != _fetchesAtFailure ? now : _failingSince;
                _fetchesAtFailure = Interlocked.Read(ref _fetches);
                if (Stopwatch.GetElapsedTime(_failingSince, now) >= PersistentFailure && Stopwatch.GetElapsedTime(_lastWarning, now) >= PersistentFailure)
                {
                    _lastWarning = now;
                    logger.LogWarning("{Topic}/{Partition}: fetching from {Leader} in epoch {Epoch} has failed for {Seconds:F0} s: {Reason}", Topic,
                        Log.Partition, Leader, LeaderEpoch, Stopwatch.GetElapsedTime(_failingSince, now).TotalSeconds, e.Message);
                }
                else
                {
                    logger.LogDebug("{Topic}/{Partition}: fetch from {Leader} failed: {Reason}", Topic, Log.Partition, Leader, e.Message);
                }
            }

            try
            {
                await Task.Delay(settings.RetryDelay, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return ReplicationError.None;
    }

    /// <returns>Null to retry (connection lost, retriable answer), or the answer that ends this epoch's run.</returns>
    private async Task<ReplicationError?> RunConnectionAsync(CancellationToken ct)
    {
        using var client = new TcpClient { NoDelay = true };
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            connect.CancelAfter(settings.RequestTimeout);
            await client.ConnectAsync(leaderHost, leaderPort, connect.Token).ConfigureAwait(false);
        }

        await using var stream = client.GetStream();
        using var frames = new FrameBuffer(); // fetch responses: reused, so no large allocation per fetch
        await stream.WriteAsync(ReplicationCodec.Magic.ToArray(), ct).ConfigureAwait(false);

        if (await TruncateToLeaderAsync(stream, ct).ConfigureAwait(false) is { } stop)
        {
            return stop;
        }

        long lastCursorSync = 0; // none yet on this connection: right after the first fetch
        while (!ct.IsCancellationRequested)
        {
            var request = new FetchRequest(Topic, Log.Partition, selfId, LeaderEpoch, Log.LogEnd, settings.FetchMaxBytes, (int)settings.FetchMaxWait.TotalMilliseconds);
            var response = await ExchangeAsync(stream, frames, request, settings.FetchMaxWait + settings.RequestTimeout, ct).ConfigureAwait(false);
            Interlocked.Increment(ref _fetches);
            switch (response.Error)
            {
                case ReplicationError.None:
                    break;
                case ReplicationError.OffsetOutOfRange when response.LogStart > Log.LogEnd:
                    // The leader no longer has what we need next (retention deleted it while we were away): drop our log
                    // and copy on from the leader's start (Kafka's truncateFullyAndStartAt).
                    logger.LogWarning("{Topic}/{Partition}: the leader's log starts at {LeaderStart}, past this replica's end {End}; restarting the log there",
                        Topic, Log.Partition, response.LogStart, Log.LogEnd);
                    await Log.ResetToAsync(response.LogStart).ConfigureAwait(false);
                    continue;
                case ReplicationError.OffsetOutOfRange:
                    // Our log end is past the leader's (we hold what it never had): truncate again.
                    if (await TruncateToLeaderAsync(stream, ct).ConfigureAwait(false) is { } again)
                    {
                        return again;
                    }

                    continue;
                case ReplicationError.UnknownLeaderEpoch or ReplicationError.StorageError:
                    // The leader has not seen this epoch yet, or its disk failed: retry after a pause (logged if it lasts).
                    throw new IOException($"the leader answered {response.Error}");
                default:
                    return response.Error;
            }

            if (!response.Batches.IsEmpty)
            {
                // (copied before the call returns: the frame buffer may be reused at the next fetch)
                await Log.AppendRawBatchesAsync(response.Batches, ct).ConfigureAwait(false);
            }

            long hw = Math.Min(response.HighWatermark, Log.LogEnd);
            if (hw > Log.HighWatermark)
            {
                Log.AdvanceHighWatermark(hw);
            }

            if (cursors is not null && (lastCursorSync == 0 || Stopwatch.GetElapsedTime(lastCursorSync) >= settings.CursorSyncInterval))
            {
                if (await SyncCursorsAsync(cursors, stream, ct).ConfigureAwait(false) is { } ended)
                {
                    return ended;
                }

                lastCursorSync = Stopwatch.GetTimestamp();
            }
        }

        return null;
    }

    /// <summary>Asks for the changed channels' cursor states (again while the leader has more) and applies them.</summary>
    /// <returns>Null to go on fetching, or the answer that ends this epoch's run.</returns>
    private async Task<ReplicationError?> SyncCursorsAsync(IChannelCursors channels, Stream stream, CancellationToken ct)
    {
        for (var round = 0; round < MaxCursorRounds; round++)
        {
            var request = new CursorRequest(Topic, Log.Partition, selfId, LeaderEpoch, channels.Known(Topic, Log.Partition));
            await ReplicationCodec.WriteAsync(stream, request, ct).ConfigureAwait(false);
            var frame = await ReadWithTimeoutAsync(stream, settings.RequestTimeout, ct).ConfigureAwait(false);
            if (frame.Type != ReplicationMessageType.CursorResponse)
            {
                throw new InvalidDataException($"expected a cursor response, got {frame.Type}");
            }

            var response = ReplicationCodec.ReadCursorResponse(frame.Body, Log.Partition);
            if (response.Error is ReplicationError.UnknownLeaderEpoch or ReplicationError.StorageError)
            {
                return null; // again at the next sync
            }

            if (response.Error != ReplicationError.None)
            {
                return response.Error;
            }

            if (response.LeaderEpoch != LeaderEpoch)
            {
                return null; // only the leader of our epoch's state is applied (its check of our epoch says it is)
            }

            foreach (var channel in response.Channels)
            {
                if (channels.Apply(Topic, channel.Channel, channel.State))
                {
                    Interlocked.Increment(ref _cursorsApplied);
                    logger.LogDebug("{Topic}/{Partition}: channel {Channel} cursor from {Leader}: next read {NextRead}, {Pending} pending (version {Version})",
                        Topic, Log.Partition, channel.Channel, Leader, channel.State.NextRead, channel.State.Pending.Count, channel.State.Version);
                }
            }

            if (!response.More)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>KIP-101/KIP-279: cut our log where our latest epoch diverges from the leader's.</summary>
    private async Task<ReplicationError?> TruncateToLeaderAsync(Stream stream, CancellationToken ct)
    {
        long ourEpoch = Log.LatestEpoch;
        if (ourEpoch < 0)
        {
            return null; // nothing written yet: nothing can diverge
        }

        await ReplicationCodec.WriteAsync(stream, new EpochEndRequest(Topic, Log.Partition, selfId, LeaderEpoch, ourEpoch), ct).ConfigureAwait(false);
        var frame = await ReadWithTimeoutAsync(stream, settings.RequestTimeout, ct).ConfigureAwait(false);
        if (frame.Type != ReplicationMessageType.EpochEndResponse)
        {
            throw new InvalidDataException($"expected an epoch-end response, got {frame.Type}");
        }

        var answer = ReplicationCodec.ReadEpochEndResponse(frame.Body);
        if (answer.Error != ReplicationError.None)
        {
            return answer.Error is ReplicationError.UnknownLeaderEpoch ? throw new TimeoutException("leader not in our epoch yet") : answer.Error;
        }

        long target;
        if (answer.EndOffset < 0)
        {
            target = Log.StartOffset; // the leader knows no epoch at or below ours: none of our data is its
        }
        else if (answer.Epoch == ourEpoch)
        {
            target = answer.EndOffset;
        }
        else
        {
            // The leader's largest epoch at or below ours is older: our epochs after it are ones the leader never had.
            // Cut at the end of our largest epoch at or below the leader's, capped by where the leader's ends
            // (KIP-279); cutting more than needed is only re-fetched.
            var ours = Log.EndOffsetForEpoch(answer.Epoch);
            target = ours.IsDefined ? Math.Min(ours.EndOffset, answer.EndOffset) : Log.StartOffset;
        }

        if (target < Log.LogEnd)
        {
            long before = Log.LogEnd;
            long end = await Log.TruncateToAsync(target).ConfigureAwait(false);
            logger.LogWarning("{Topic}/{Partition}: truncated from {Before} to {End} to match leader {Leader} in epoch {Epoch}", Topic, Log.Partition, before, end, Leader, LeaderEpoch);
        }

        return null;
    }

    /// <summary>A fetch: the response's batches live in <paramref name="frames"/> until the next fetch.</summary>
    private static async Task<FetchResponse> ExchangeAsync(Stream stream, FrameBuffer frames, FetchRequest request, TimeSpan timeout, CancellationToken ct)
    {
        await ReplicationCodec.WriteAsync(stream, request, ct).ConfigureAwait(false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var frame = await ReplicationCodec.ReadFrameAsync(stream, frames, deadline.Token).ConfigureAwait(false)
            ?? throw new IOException("leader closed the replication connection");
        if (frame.Type != ReplicationMessageType.FetchResponse)
        {
            throw new InvalidDataException($"expected a fetch response, got {frame.Type}");
        }

        return ReplicationCodec.ReadFetchResponse(frame.Body);
    }

    private static async Task<(ReplicationMessageType Type, byte[] Body)> ReadWithTimeoutAsync(Stream stream, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        return await ReplicationCodec.ReadFrameAsync(stream, deadline.Token).ConfigureAwait(false)
            ?? throw new IOException("leader closed the replication connection");
    }
}
