using Microsoft.Extensions.Logging;
using NsqSharp.Common;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// An NSQ channel: one cursor per partition of its topic, a bounded ready queue that the cursors'
/// fill loops feed, and the clients that compete for it. Every consumer of the channel sees each
/// message once (at least once); different channels of a topic each see every message.
/// </summary>
public sealed class Channel
{
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _deleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _fillLoops = [];
    private readonly List<IChannelConsumer> _released = [];
    private readonly List<IChannelConsumer> _waiting = [];
    private int _nextTake;
    private bool _fillWaitingForRoom;
    private long _fillErrors;
    private IChannelConsumer[] _clients = [];
    private long _messageCount;
    private long _requeueCount;
    private long _timeoutCount;
    private bool _deleting;
    private ChannelCheckpointer? _checkpointer;

    internal Channel(Topic topic, string name, ChannelCursor[]? cursors, NsqdOptions options, ILogger logger)
    {
        Topic = topic;
        Name = name;
        IsEphemeral = NsqNames.IsEphemeral(name);
        _logger = logger;
        MaxPending = options.MaxPendingPerChannel;
        MaxReadAheadMessages = Math.Clamp(options.MemQueueSize, 1, 4096);
        MaxReadAheadBytes = Math.Max(1, options.MaxChannelReadAheadBytes);
        Time = options.Time;
        E2ELatency = new LatencyQuantiles(options.E2EProcessingLatencyWindowTime, options.Time);
        Cursors = cursors ?? [];
        Ops = new CursorOpBuffer(recording: !IsEphemeral && !topic.IsEphemeral);
    }

    public Topic Topic { get; }

    public string Name { get; }

    public bool IsEphemeral { get; }

    public bool Paused { get; private set; }

    /// <summary>Completes once a delete of this channel has finished (a SUB racing an ephemeral channel's end awaits it).</summary>
    public Task Deleted => _deleted.Task;

    /// <summary>Guards the cursors, the client list and pause state. Never held across I/O.</summary>
    internal object Sync { get; } = new();

    internal ChannelCursor[] Cursors { get; set; }

    /// <summary>The cursors' ops since the last checkpoint step (guarded by Sync). Not recording for ephemeral channels.</summary>
    internal CursorOpBuffer Ops { get; }

    /// <summary>Null for ephemeral channels (not persisted).</summary>
    internal ChannelCheckpointer? Checkpointer => _checkpointer;

    /// <summary>Sync held: the channel is being deleted (no checkpoint may write).</summary>
    internal bool IsDeletingLocked => _deleting;

    /// <summary>
    /// Receives the cursor ops in batches after each checkpoint step (see <see cref="ICursorOpSink"/>): the seam for
    /// replicating cursors to followers. Null (nothing) in standalone mode and for ephemeral channels.
    /// </summary>
    public ICursorOpSink? CursorOpSink
    {
        get => _checkpointer?.Sink;
        set
        {
            if (_checkpointer != null)
            {
                _checkpointer.Sink = value;
            }
        }
    }

    internal int MaxPending { get; }

    internal TimeProvider Time { get; }

    /// <summary>Read-ahead bounds: messages (--mem-queue-size, at most 4096) and body bytes (--max-channel-read-ahead-bytes).</summary>
    internal int MaxReadAheadMessages { get; }

    internal long MaxReadAheadBytes { get; }

    /// <summary>Messages read ahead into the cursors' ready queues, waiting for a client (guarded by Sync).</summary>
    internal int ReadAheadMessages { get; private set; }

    /// <summary>Body bytes of those messages (guarded by Sync).</summary>
    internal long ReadAheadBytes { get; private set; }

    /// <summary>Read-ahead body bytes now (takes the lock; for stats and metrics).</summary>
    public long ReadAheadBytesNow
    {
        get
        {
            lock (Sync)
            {
                return ReadAheadBytes;
            }
        }
    }

    /// <summary>Fill-loop failures retried so far (each is logged); exported on /metrics.</summary>
    public long FillErrorCount => Interlocked.Read(ref _fillErrors);

    public LatencyQuantiles E2ELatency { get; }

    /// <summary>Messages that entered the channel (read from the log), each counted once as upstream.</summary>
    public long MessageCount => Interlocked.Read(ref _messageCount);

    internal void CountEntered() => Interlocked.Increment(ref _messageCount);

    public long RequeueCount => Interlocked.Read(ref _requeueCount);

    public long TimeoutCount => Interlocked.Read(ref _timeoutCount);

    public IChannelConsumer[] Clients => Volatile.Read(ref _clients);

    /// <summary>How long the checkpoint step held the channel lock (last and longest; /metrics).</summary>
    public DurationStats CheckpointLockTime { get; } = new();

    /// <summary>How long whole checkpoint steps took (lock, applying the ops to the copy, writing, fsync; /metrics).</summary>
    public DurationStats CheckpointStepTime { get; } = new();

    /// <summary>Cursor ops made durable since start (/metrics).</summary>
    public long CheckpointOpsCount => _checkpointer?.OpsPersisted ?? 0;

    /// <summary>Cursor snapshots written since start (/metrics).</summary>
    public long CheckpointSnapshotCount => _checkpointer?.SnapshotsWritten ?? 0;

    internal string CheckpointPath => Path.Combine(Topic.Directory, "channels", Topic.EscapeFileName(Name) + ".cursor");

    internal void Start()
    {
        foreach (var cursor in Cursors)
        {
            cursor.Attach();
            _fillLoops.Add(Task.Run(() => RunFillLoopAsync(cursor)));
        }
    }

    /// <summary>
    /// Runs a cursor's fill loop until the channel stops. A failure (an I/O error, out of memory) is logged,
    /// counted and retried with backoff: a channel never silently stops delivering.
    /// </summary>
    private async Task RunFillLoopAsync(ChannelCursor cursor)
    {
        var ct = _stop.Token;
        var backoff = FillRetryMin;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await cursor.RunFillLoopAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException) when (ct.IsCancellationRequested || Topic.IsDeleting)
            {
                return;
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _fillErrors);
                _logger.LogError(e, "channel {Topic}/{Channel}: reading partition {Partition} failed; retrying in {Delay} ms",
                    Topic.Name, Name, cursor.Partition, (long)backoff.TotalMilliseconds);
            }

            try
            {
                await Task.Delay(backoff, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = backoff * 2 > FillRetryMax ? FillRetryMax : backoff * 2;
        }
    }

    private static readonly TimeSpan FillRetryMin = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FillRetryMax = TimeSpan.FromSeconds(5);

    /// <summary>Registers a subscriber; returns an error text for E_SUB_FAILED, or null.</summary>
    public string? AddClient(IChannelConsumer client, int maxConsumers)
    {
        lock (Sync)
        {
            if (_deleting)
            {
                return "channel is exiting";
            }

            if (maxConsumers > 0 && _clients.Length >= maxConsumers)
            {
                return $"consumers for {Topic.Name}:{Name} exceeds limit of {maxConsumers}";
            }

            Volatile.Write(ref _clients, CopyOnWriteArray.Append(_clients, client));
            return null;
        }
    }

    /// <summary>Unsubscribes a client, requeueing whatever it held. An ephemeral channel goes away with its last client.</summary>
    public void RemoveClient(IChannelConsumer client)
    {
        bool deleteNow;
        lock (Sync)
        {
            var next = CopyOnWriteArray.Remove(_clients, client);
            if (ReferenceEquals(next, _clients))
            {
                return;
            }

            Volatile.Write(ref _clients, next);
            _waiting.Remove(client);
            foreach (var cursor in Cursors)
            {
                cursor.ReleaseClient(client);
            }

            deleteNow = IsEphemeral && next.Length == 0 && !_deleting;
        }

        if (deleteNow)
        {
            _ = Topic.DeleteChannelAsync(Name);
        }
    }

    /// <summary>
    /// Takes the next deliverable message for a client and marks it in flight, taking partitions in turn. False
    /// when nothing is ready or the channel is paused; the client is then woken (<see cref="IChannelConsumer.Wake"/>)
    /// once a message is queued, so a pump waits on its own signal only.
    /// </summary>
    public bool TryTake(IChannelConsumer client, long timeoutMs, out Delivery delivery, out ushort attempts)
    {
        var refill = false;
        try
        {
            lock (Sync)
            {
                if (!Paused)
                {
                    var cursors = Cursors;
                    for (var i = 0; i < cursors.Length; i++)
                    {
                        var index = (_nextTake + i) % cursors.Length;
                        var cursor = cursors[index];
                        while (Topic.Delivers(cursor.Partition) && cursor.TryDequeueReady(out delivery)) // (a follower's copy: never)
                        {
                            OnReadyDequeued(delivery.Body.Length);
                            if (_fillWaitingForRoom && BelowRefillMark)
                            {
                                _fillWaitingForRoom = false;
                                refill = true;
                            }

                            if (cursor.MarkInFlight(delivery, client, Time.MonotonicMs(), timeoutMs, out attempts))
                            {
                                _nextTake = index + 1;
                                return true;
                            }
                        }
                    }

                    if (!_waiting.Contains(client))
                    {
                        _waiting.Add(client);
                    }
                }
            }
        }
        finally
        {
            if (refill)
            {
                // The read-ahead was full and has drained to half: let the fill loops read on, in big reads.
                foreach (var cursor in Cursors)
                {
                    cursor.FillSignal.Set();
                }
            }
        }

        delivery = default;
        attempts = 0;
        return false;
    }

    /// <summary>
    /// Sync held: room for at least one more message of read-ahead. When there is none, the fill loop that asked
    /// is woken only once takes have drained the read-ahead to half (hysteresis): waking it on every take made it
    /// read one message at a time.
    /// </summary>
    internal bool CheckReadAheadRoom()
    {
        if (ReadAheadMessages < MaxReadAheadMessages && ReadAheadBytes < MaxReadAheadBytes)
        {
            return true;
        }

        _fillWaitingForRoom = true; // the next take that drains to half wakes the fill loops
        return false;
    }

    private bool BelowRefillMark => ReadAheadMessages <= MaxReadAheadMessages / 2 && ReadAheadBytes <= MaxReadAheadBytes / 2;

    /// <summary>Sync held: how much a fill loop may read now (at least one message when there is room at all).</summary>
    internal bool ReadAheadRoom(out int messages, out int bytes)
    {
        messages = MaxReadAheadMessages - ReadAheadMessages;
        bytes = (int)Math.Clamp(MaxReadAheadBytes - ReadAheadBytes, 1, int.MaxValue);
        return CheckReadAheadRoom();
    }

    /// <summary>Sync held: a message entered a ready queue; wake every client that found nothing to take.</summary>
    internal void OnReadyEnqueued(int bodyBytes)
    {
        ReadAheadMessages++;
        ReadAheadBytes += bodyBytes;
        if (_waiting.Count > 0)
        {
            // All of them: a woken client that is no longer ready would otherwise swallow the only wake-up.
            foreach (var client in _waiting)
            {
                client.Wake();
            }

            _waiting.Clear();
        }
    }

    /// <summary>Sync held: a message left a ready queue (taken, or dropped by a cursor move).</summary>
    internal void OnReadyDequeued(int bodyBytes)
    {
        ReadAheadMessages--;
        ReadAheadBytes -= bodyBytes;
    }

    public string? Finish(IChannelConsumer client, MessageId id)
    {
        string? error;
        long timestampNs;
        lock (Sync)
        {
            var cursor = CursorFor(id.Partition);
            if (cursor == null)
            {
                return "ID not in flight";
            }

            error = cursor.Finish(id.Offset, client, out timestampNs);
        }

        if (error == null && timestampNs > 0)
        {
            E2ELatency.Record((Time.UnixMs() * 1_000_000) - timestampNs);
        }

        return error;
    }

    public string? Requeue(IChannelConsumer client, MessageId id, long delayMs)
    {
        lock (Sync)
        {
            var cursor = CursorFor(id.Partition);
            var error = cursor == null ? "ID not in flight" : cursor.Requeue(id.Offset, client, delayMs);
            if (error == null)
            {
                Interlocked.Increment(ref _requeueCount);
            }

            return error;
        }
    }

    public string? Touch(IChannelConsumer client, MessageId id, long timeoutMs, long maxTimeoutMs)
    {
        lock (Sync)
        {
            var cursor = CursorFor(id.Partition);
            return cursor == null ? "ID not in flight" : cursor.Touch(id.Offset, client, Time.MonotonicMs(), timeoutMs, maxTimeoutMs);
        }
    }

    /// <summary>Called by the broker's timer loop: in-flight timeouts and deferred due times.</summary>
    internal void ProcessTimers()
    {
        var nowTicks = Time.MonotonicMs();
        var nowMs = Time.UnixMs();
        IChannelConsumer[]? toNotify = null;
        lock (Sync)
        {
            _released.Clear();
            var timedOut = 0;
            foreach (var cursor in Cursors)
            {
                timedOut += cursor.ProcessTimers(nowTicks, nowMs, _released);
            }

            if (timedOut > 0)
            {
                Interlocked.Add(ref _timeoutCount, timedOut);
            }

            if (_released.Count > 0)
            {
                toNotify = [.. _released];
            }
        }

        if (toNotify != null)
        {
            foreach (var client in toNotify)
            {
                client.InFlightReleased(1);
            }
        }
    }

    public void Pause() => SetPaused(true);

    public void Unpause() => SetPaused(false);

    internal void SetPausedQuietly(bool paused) => Paused = paused;

    /// <summary>Cluster mode: the pause flag the cluster state gives this replica's copy (raises no event back).</summary>
    public void ApplyReplicatedPause(bool paused)
    {
        if (Paused != paused)
        {
            Paused = paused;
            WakeClients();
            Topic.Broker.SaveMetadata();
        }
    }

    private void SetPaused(bool paused)
    {
        Paused = paused;
        WakeClients();
        Topic.Broker.ControlPlane?.ChannelPauseChanged(Topic.Name, Name, paused);
    }

    /// <summary>Upstream /channel/empty: drops every unfinished message, in flight too, and moves the cursors to the end.</summary>
    public void Empty() => Move(StartPosition.Newest, dropInFlight: true);

    /// <summary>Replay: moves every partition cursor, or only one partition's. In-flight messages stay in flight.</summary>
    public void MoveTo(StartPosition position, int? partition = null) => Move(position, dropInFlight: false, partition);

    private void Move(StartPosition position, bool dropInFlight, int? partition = null)
    {
        var released = new List<IChannelConsumer>();
        lock (Sync)
        {
            foreach (var cursor in Cursors)
            {
                if (partition == null || cursor.Partition == partition)
                {
                    cursor.MoveTo(Topic.ResolvePosition(cursor.Log, position), dropInFlight, released);
                }
            }
        }

        foreach (var client in released)
        {
            client.InFlightReleased(1);
        }

        WakeClients();
    }

    /// <summary>
    /// Cluster mode, on a partition's leader: the checkpointed cursor state of <paramref name="partition"/> (what the
    /// last checkpoint step made durable, about a second behind the live cursor), to replicate to a follower; null
    /// when its <see cref="PartitionCursorState.Version"/> is <paramref name="knownVersion"/> (unchanged), and for
    /// channels that are not persisted (ephemeral).
    /// </summary>
    public PartitionCursorState? ExportCursor(int partition, long knownVersion) => _checkpointer?.Export(partition, knownVersion);

    /// <summary>
    /// Cluster mode, on a follower of the partition: the version of the leader's cursor state this copy holds
    /// (0: none yet, or not all of it because this log's high watermark was behind).
    /// </summary>
    public long ReplicatedCursorVersion(int partition)
    {
        lock (Sync)
        {
            return CursorFor(partition)?.ReplicatedVersion ?? 0;
        }
    }

    /// <summary>
    /// Cluster mode, on a follower of the partition: replaces this copy's cursor of the partition with the leader's
    /// replicated state (<see cref="ExportCursor"/>), so that, when this node leads, the channel delivers from there:
    /// next read as the leader's, pending messages requeued with their attempts, deferred ones at their due time.
    /// The next checkpoint step snapshots the whole live state, so a restart keeps it too. Refused (false) while this
    /// node leads the partition (its own cursor is the truth), for ephemeral channels and once deleting.
    /// </summary>
    public bool ApplyReplicatedCursor(PartitionCursorState state)
    {
        if (_checkpointer == null)
        {
            return false;
        }

        var released = new List<IChannelConsumer>();
        lock (Sync)
        {
            if (_deleting || Topic.Delivers(state.Partition) || CursorFor(state.Partition) is not { } cursor)
            {
                return false;
            }

            cursor.ReplaceState(state, released);
            Ops.RequestCopy();
        }

        foreach (var client in released)
        {
            client.InFlightReleased(1);
        }

        return true;
    }

    /// <summary>
    /// Cluster mode: a partition's role changed. Its cursor looks again; when this node no longer leads it, every
    /// subscriber is dropped with E_NOT_LEADER (what it holds in flight is requeued here and redelivered by the new
    /// leader), so clients look the topic up again and reach the leader.
    /// </summary>
    internal void OnPartitionRoleChanged(int partition)
    {
        CursorFor(partition)?.FillSignal.Set();
        if (Topic.Delivers(partition))
        {
            WakeClients();
            return;
        }

        foreach (var client in Clients)
        {
            client.CloseForLeadershipLoss($"E_NOT_LEADER {Topic.Name} partition {partition} is led by another node");
        }
    }

    internal void WakeClients()
    {
        foreach (var client in Clients)
        {
            client.Wake();
        }
    }

    public long Depth
    {
        get
        {
            lock (Sync)
            {
                long depth = 0;
                foreach (var c in Cursors)
                {
                    depth += c.Depth;
                }

                return depth;
            }
        }
    }

    public int InFlightCount => SumUnderLock(static c => c.InFlightCount);

    public int DeferredCount => SumUnderLock(static c => c.DeferredCount);

    internal long AckFloor(int partition)
    {
        lock (Sync)
        {
            return CursorFor(partition)?.AckFloor ?? long.MaxValue;
        }
    }

    /// <summary>
    /// Called by the broker at start: the checkpointer's copy of the state is the live cursors' (as restored from
    /// <paramref name="loaded"/>, or new). A snapshot is due first unless the files on disk already say exactly that.
    /// </summary>
    internal void InitializeCheckpoints(CursorFiles? files, CursorFiles.Loaded? loaded)
    {
        if (IsEphemeral || Topic.IsEphemeral)
        {
            return;
        }

        files ??= new CursorFiles(CheckpointPath);
        CursorState live;
        lock (Sync)
        {
            live = CaptureStateLocked();
        }

        var upToDate = loaded?.State != null && files.CanAppend && loaded.State.SameAs(live);
        _checkpointer = new ChannelCheckpointer(this, files, live, needsSnapshot: !upToDate, _logger);
    }

    /// <summary>Sync held: a copy of the live cursors' durable state (O(pending)), into <paramref name="into"/> if given
    /// (its dictionaries are reused).</summary>
    internal CursorState CaptureStateLocked(CursorState? into = null)
    {
        var state = into ?? new CursorState();
        foreach (var cursor in Cursors)
        {
            cursor.CaptureState(state.Partition(cursor.Partition));
        }

        return state;
    }

    /// <summary>Sync held: pending messages over all cursors.</summary>
    internal int PendingCountLocked
    {
        get
        {
            var count = 0;
            foreach (var cursor in Cursors)
            {
                count += cursor.Pending.Count;
            }

            return count;
        }
    }

    /// <summary>
    /// The op buffer is a quarter full: checkpoint before the one-second tick, so a channel with a deep pending set and
    /// millions of ops a second never overflows into a copy under the lock. Read without the lock (a hint).
    /// </summary>
    internal bool CheckpointDue => _checkpointer != null && Ops.Count >= Ops.MaxOps / 4;

    /// <summary>
    /// Makes the cursor changes since the last call durable (see <see cref="ChannelCheckpointer"/>): under the channel
    /// lock only the op buffer is swapped. Ephemeral channels are not persisted.
    /// </summary>
    internal void CheckpointIfDirty()
    {
        try
        {
            _checkpointer?.Checkpoint();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(e, "channel {Topic}/{Channel}: checkpoint failed", Topic.Name, Name);
        }
    }

    /// <summary>Stops the fill loops. With delete, closes the clients and removes the checkpoint.</summary>
    internal async Task StopAsync(bool delete)
    {
        IChannelConsumer[] clients;
        lock (Sync)
        {
            _deleting |= delete;
            clients = _clients;
        }

        _stop.Cancel();
        try
        {
            await Task.WhenAll(_fillLoops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (!delete)
        {
            CheckpointIfDirty(); // after the fill loops: nothing they read is left out
        }

        foreach (var cursor in Cursors)
        {
            cursor.Detach();
        }

        if (delete)
        {
            foreach (var client in clients)
            {
                client.CloseForChannelDelete();
            }

            _checkpointer?.Delete();
            _deleted.TrySetResult();
        }
    }

    /// <summary>The cursor of a partition id (ids are sparse in general; P is small, so a scan beats a map).</summary>
    private ChannelCursor? CursorFor(int partition)
    {
        foreach (var cursor in Cursors)
        {
            if (cursor.Partition == partition)
            {
                return cursor;
            }
        }

        return null;
    }

    private int SumUnderLock(Func<ChannelCursor, int> selector)
    {
        lock (Sync)
        {
            var sum = 0;
            foreach (var c in Cursors)
            {
                sum += selector(c);
            }

            return sum;
        }
    }
}
