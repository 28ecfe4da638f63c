using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// A channel's position in one partition log: the next offset to read, and every read-but-unacked
/// offset (queued, in flight, deferred, requeued). All state is guarded by the owning channel's lock;
/// the fill loop is the only code that reads the log. Every change of the durable part of the state (next read,
/// pending offsets, attempts, in flight, due time) is also recorded as a <see cref="CursorOp"/> in the channel's op
/// buffer, in the same lock: that stream is what the checkpoint persists (and, in cluster mode, what the state a leader
/// replicates to its followers is built from).
/// </summary>
internal sealed class ChannelCursor
{
    private const int ReadBatchMessages = 256;
    private const int ReadBatchBytes = 1 << 20;

    private readonly Channel _channel;
    private readonly List<LogRecord> _readBatch = new(256);
    private readonly PriorityQueue<long, long> _inFlightByDeadline = new();
    private readonly PriorityQueue<long, long> _deferredByDue = new();
    private readonly Queue<long> _requeued = new();
    private readonly Queue<Delivery> _ready = new();
    private readonly Action _onData;
    private int _rereading; // 1 while the fill loop re-reads a requeued message (out of _requeued, not yet queued)
    private readonly CursorOpBuffer _ops;
    private readonly int _partition;

    public ChannelCursor(Channel channel, PartitionLog log, long nextRead)
    {
        _channel = channel;
        Log = log;
        NextRead = nextRead;
        _onData = FillSignal.Set;
        _ops = channel.Ops;
        _partition = log.Partition;
    }

    /// <summary>Starts waking the fill loop when the log advances (channel start).</summary>
    public void Attach() => Log.AddDataListener(LogBound.HighWatermark, _onData);

    /// <summary>Stops the log's wake-ups (channel stop or delete).</summary>
    public void Detach() => Log.RemoveDataListener(LogBound.HighWatermark, _onData);

    public PartitionLog Log { get; }

    public int Partition => Log.Partition;

    public AsyncSignal FillSignal { get; } = new();

    // --- state below is guarded by _channel.Sync ---
    public long NextRead { get; private set; }

    public Dictionary<long, PendingMessage> Pending { get; } = [];

    public int Generation { get; private set; }

    public int InFlightCount { get; private set; }

    public int DeferredCount { get; private set; }

    public int QueuedCount { get; private set; }

    /// <summary>Messages waiting for a client: unread in the log + queued + requeued (one may be being re-read).</summary>
    public long Depth => Math.Max(0, Log.HighWatermark - NextRead) + QueuedCount + _requeued.Count + _rereading;

    public long AckFloor
    {
        get
        {
            var floor = NextRead;
            foreach (var offset in Pending.Keys)
            {
                if (offset < floor)
                {
                    floor = offset;
                }
            }

            return floor;
        }
    }

    /// <summary>
    /// The fill loop: moves requeued and newly readable messages into this cursor's ready queue while the channel
    /// has read-ahead room. It waits on one signal only (<see cref="FillSignal"/>), set by whatever can unblock it:
    /// the log advancing (a data listener), a requeue or due timer, a take that frees room, a FIN below the pending
    /// limit, a cursor move, an unpause. Never a race of several waits, so idle waits allocate nothing per loop.
    /// </summary>
    public async Task RunFillLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            // A follower's copy (cluster mode) is read by nobody: the leader's cursor delivers.
            if (_channel.Topic.Delivers(Partition) && (TryFillRequeued() || TryFillFresh()))
            {
                continue;
            }

            await FillSignal.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    /// <summary>The ready queue holds one message per entry; its counts live on the channel (read-ahead is per channel).</summary>
    public int ReadyCount => _ready.Count;

    /// <summary>Takes the oldest ready message (channel lock held). Accounting of the channel's read-ahead is the caller's.</summary>
    public bool TryDequeueReady(out Delivery delivery) => _ready.TryDequeue(out delivery);

    private bool TryFillRequeued()
    {
        while (true)
        {
            long offset;
            int generation;
            lock (_channel.Sync)
            {
                if (!_channel.CheckReadAheadRoom() || !_requeued.TryDequeue(out offset))
                {
                    return false;
                }

                ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
                if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.Requeued)
                {
                    continue;
                }

                generation = Generation;
                _rereading = 1;
            }

            bool found;
            LogRecord record;
            try
            {
                found = Log.TryRead(offset, LogBound.HighWatermark, out record);
            }
            catch
            {
                lock (_channel.Sync)
                {
                    _rereading = 0;
                    _requeued.Enqueue(offset); // still requeued: the retried fill loop reads it again
                }

                throw;
            }

            lock (_channel.Sync)
            {
                _rereading = 0;
                ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
                if (generation != Generation || System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.Requeued)
                {
                    continue; // emptied or moved while reading
                }

                if (!found)
                {
                    // Deleted by the hard size limit: nothing left to deliver, so it counts as acked.
                    Pending.Remove(offset);
                    _ops.Add(CursorOp.Finish(_partition, offset));
                    continue;
                }

                entry.State = PendingState.Queued;
                entry.Generation = generation;
                QueuedCount++;
                EnqueueReady(new Delivery(Partition, offset, record.TimestampNs, record.Body, generation));
                return true;
            }
        }
    }

    private bool TryFillFresh()
    {
        long from;
        int maxMessages;
        int maxBytes;
        lock (_channel.Sync)
        {
            if (_channel.Topic.Paused || Pending.Count >= _channel.MaxPending || NextRead >= Log.HighWatermark ||
                !_channel.ReadAheadRoom(out maxMessages, out maxBytes))
            {
                return false;
            }

            from = NextRead;
            maxMessages = Math.Min(maxMessages, Math.Min(ReadBatchMessages, _channel.MaxPending - Pending.Count));
        }

        _readBatch.Clear();
        Log.Read(from, maxMessages, Math.Min(maxBytes, ReadBatchBytes), LogBound.HighWatermark, _readBatch);
        lock (_channel.Sync)
        {
            if (NextRead != from)
            {
                // Moved while reading: read again from the new position (a seek back would otherwise skip what lies
                // between it and this batch).
                _readBatch.Clear();
                return true;
            }

            if (_readBatch.Count == 0)
            {
                // Skipped by retention: jump to the oldest retained message.
                if (from < Log.StartOffset)
                {
                    NextRead = Log.StartOffset;
                    _ops.Add(CursorOp.Read(_partition, NextRead, NextRead));
                    return true;
                }

                return false;
            }

            var nowMs = _channel.Time.UnixMs();
            long runStart = -1;
            long runEnd = -1;
            foreach (var record in _readBatch)
            {
                if (record.Offset < NextRead)
                {
                    continue; // not past the next read offset (cannot happen: reads start at it)
                }

                if (record.Offset != runEnd)
                {
                    RecordRead(runStart, runEnd); // a gap (retention, a damaged batch): a new run
                    runStart = record.Offset;
                }

                runEnd = record.Offset + 1;
                if (QueueFresh(record, nowMs))
                {
                    RecordRead(runStart, runEnd);
                    _ops.Add(CursorOp.Defer(_partition, record.Offset, record.DeliverAtMs));
                    runStart = runEnd;
                }
            }

            RecordRead(runStart, runEnd);
        }

        _readBatch.Clear();
        return true;
    }

    /// <summary>Channel lock held: offsets [from, to) became pending (one op per contiguous run, not per message).</summary>
    private void RecordRead(long from, long to)
    {
        if (to > from)
        {
            _ops.Add(CursorOp.Read(_partition, from, to));
        }
    }

    /// <summary>Channel lock held: a record read ahead becomes pending (queued, or deferred until its DPUB due time:
    /// true).</summary>
    private bool QueueFresh(in LogRecord record, long nowMs)
    {
        NextRead = record.Offset + 1;
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(Pending, record.Offset, out var exists);
        if (exists)
        {
            // Kept in flight across a seek back: still pending. Replacing it would leave the in-flight count off by
            // one and fail its FIN; instead the FIN requeues it, so the replay still delivers it again. (Restored or
            // requeued ones are delivered again anyway.)
            if (entry.State == PendingState.InFlight)
            {
                entry.ReplayAfter = true;
            }

            return false;
        }

        _channel.CountEntered();
        entry = new PendingMessage { TimestampNs = record.TimestampNs, Generation = Generation };
        if (record.DeliverAtMs > nowMs)
        {
            entry.State = PendingState.Deferred;
            entry.Due = record.DeliverAtMs;
            _deferredByDue.Enqueue(record.Offset, entry.Due);
            DeferredCount++;
            return true;
        }

        entry.State = PendingState.Queued;
        QueuedCount++;
        EnqueueReady(new Delivery(Partition, record.Offset, record.TimestampNs, record.Body, Generation));
        return false;
    }

    /// <summary>Channel lock held: appends to the ready queue, counts the read-ahead and wakes idle consumers.</summary>
    private void EnqueueReady(in Delivery delivery)
    {
        _ready.Enqueue(delivery);
        _channel.OnReadyEnqueued(delivery.Body.Length);
    }

    // --- the methods below are called with _channel.Sync held ---

    /// <summary>A client took a queued message: it becomes in flight. False if stale (emptied, moved).</summary>
    public bool MarkInFlight(in Delivery delivery, IChannelConsumer client, long nowTicks, long timeoutMs, out ushort attempts)
    {
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, delivery.Offset);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.Queued ||
            entry.Generation != delivery.Generation || delivery.Generation != Generation)
        {
            attempts = 0;
            return false;
        }

        entry.State = PendingState.InFlight;
        entry.ReplayAfter = false; // this delivery is the replay
        entry.Owner = client;
        entry.Attempts = entry.Attempts == ushort.MaxValue ? ushort.MaxValue : (ushort)(entry.Attempts + 1);
        entry.DeliveredAt = nowTicks;
        entry.Due = nowTicks + timeoutMs;
        _inFlightByDeadline.Enqueue(delivery.Offset, entry.Due);
        QueuedCount--;
        InFlightCount++;
        attempts = entry.Attempts;
        _ops.Add(CursorOp.Deliver(_partition, delivery.Offset));
        return true;
    }

    public string? Finish(long offset, IChannelConsumer client, out long timestampNs)
    {
        timestampNs = 0;
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.InFlight)
        {
            return "ID not in flight";
        }

        if (!ReferenceEquals(entry.Owner, client))
        {
            return "client does not own message";
        }

        timestampNs = entry.TimestampNs;
        InFlightCount--;
        if (entry.ReplayAfter)
        {
            // A seek back passed over it while it was in flight: finished, and due again for the replay.
            entry.ReplayAfter = false;
            entry.State = PendingState.Requeued;
            entry.Owner = null;
            _requeued.Enqueue(offset);
            _ops.Add(CursorOp.Requeue(_partition, offset));
            FillSignal.Set();
            return null;
        }

        Pending.Remove(offset);
        _ops.Add(CursorOp.Finish(_partition, offset));
        if (Pending.Count == _channel.MaxPending - 1)
        {
            FillSignal.Set(); // the fill loop stops reading ahead at the pending limit; this FIN reopened it
        }

        return null;
    }

    public string? Requeue(long offset, IChannelConsumer client, long delayMs)
    {
        var error = CheckOwned(offset, client);
        if (error != null)
        {
            return error;
        }

        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
        entry.Owner = null;
        InFlightCount--;
        if (delayMs > 0)
        {
            entry.State = PendingState.Deferred;
            entry.Due = _channel.Time.UnixMs() + delayMs;
            _deferredByDue.Enqueue(offset, entry.Due);
            DeferredCount++;
            _ops.Add(CursorOp.Defer(_partition, offset, entry.Due));
        }
        else
        {
            entry.State = PendingState.Requeued;
            _requeued.Enqueue(offset);
            _ops.Add(CursorOp.Requeue(_partition, offset));
            FillSignal.Set();
        }

        return null;
    }

    public string? Touch(long offset, IChannelConsumer client, long nowTicks, long timeoutMs, long maxTimeoutMs)
    {
        var error = CheckOwned(offset, client);
        if (error != null)
        {
            return error;
        }

        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
        var deadline = nowTicks + timeoutMs;
        if (deadline - entry.DeliveredAt >= maxTimeoutMs)
        {
            deadline = entry.DeliveredAt + maxTimeoutMs;
        }

        entry.Due = deadline;
        _inFlightByDeadline.Enqueue(offset, deadline);
        return null;
    }

    /// <summary>Requeues every message a disconnecting client holds (upstream waits for the timeout; we don't).</summary>
    public int ReleaseClient(IChannelConsumer client)
    {
        var released = 0;
        foreach (var (offset, entry) in Pending)
        {
            if (entry.State == PendingState.InFlight && ReferenceEquals(entry.Owner, client))
            {
                released++;
                _requeued.Enqueue(offset);
            }
        }

        if (released > 0)
        {
            foreach (var offset in _requeued)
            {
                ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
                if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) && entry.State == PendingState.InFlight &&
                    ReferenceEquals(entry.Owner, client))
                {
                    entry.State = PendingState.Requeued;
                    entry.Owner = null;
                    InFlightCount--;
                    _ops.Add(CursorOp.Requeue(_partition, offset));
                }
            }

            FillSignal.Set();
        }

        return released;
    }

    /// <summary>Moves expired in-flight messages and due deferred ones to the requeue list.</summary>
    public int ProcessTimers(long nowTicks, long nowUnixMs, List<IChannelConsumer> released)
    {
        var timedOut = 0;
        while (_inFlightByDeadline.TryPeek(out var offset, out var deadline) && deadline <= nowTicks)
        {
            _inFlightByDeadline.Dequeue();
            ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.InFlight || entry.Due != deadline)
            {
                continue; // stale heap entry: finished, requeued or touched since
            }

            if (entry.Owner != null)
            {
                released.Add(entry.Owner);
            }

            entry.State = PendingState.Requeued;
            entry.Owner = null;
            InFlightCount--;
            _requeued.Enqueue(offset);
            _ops.Add(CursorOp.Requeue(_partition, offset));
            timedOut++;
        }

        var due = 0;
        while (_deferredByDue.TryPeek(out var offset, out var dueAt) && dueAt <= nowUnixMs)
        {
            _deferredByDue.Dequeue();
            ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(Pending, offset);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry) || entry.State != PendingState.Deferred || entry.Due != dueAt)
            {
                continue;
            }

            entry.State = PendingState.Requeued;
            DeferredCount--;
            _requeued.Enqueue(offset);
            _ops.Add(CursorOp.Requeue(_partition, offset));
            due++;
        }

        if (timedOut + due > 0)
        {
            FillSignal.Set();
        }

        // Keep the heaps from growing with stale entries from TOUCH-heavy clients.
        if (_inFlightByDeadline.Count > 4 * (InFlightCount + 64))
        {
            RebuildInFlightHeap();
        }

        return timedOut;
    }

    /// <summary>
    /// Moves the cursor (empty, replay) and forgets queued, requeued and deferred messages. In-flight
    /// ones are kept (a FIN still works) unless dropInFlight, as upstream's /channel/empty does; their
    /// owners are added to released, once per message.
    /// </summary>
    public void MoveTo(long offset, bool dropInFlight, List<IChannelConsumer> released)
    {
        Generation++;
        var keep = new List<KeyValuePair<long, PendingMessage>>();
        foreach (var pair in Pending)
        {
            if (pair.Value.State != PendingState.InFlight)
            {
                continue;
            }

            if (dropInFlight)
            {
                if (pair.Value.Owner != null)
                {
                    released.Add(pair.Value.Owner);
                }
            }
            else
            {
                keep.Add(pair);
            }
        }

        Pending.Clear();
        foreach (var pair in keep)
        {
            Pending.Add(pair.Key, pair.Value);
        }

        if (dropInFlight)
        {
            _inFlightByDeadline.Clear();
            InFlightCount = 0;
        }

        _requeued.Clear();
        while (_ready.TryDequeue(out var stale))
        {
            _channel.OnReadyDequeued(stale.Body.Length);
        }

        _deferredByDue.Clear();
        DeferredCount = 0;
        QueuedCount = 0;
        NextRead = Math.Clamp(offset, Log.StartOffset, Log.HighWatermark);
        _ops.Add(CursorOp.Move(_partition, NextRead, dropInFlight));
        FillSignal.Set();
    }

    /// <summary>
    /// Restores checkpointed state (see ChannelCheckpoint): in-flight and queued come back requeued (in offset order),
    /// deferred ones keep their due time. Offsets no longer in the log are dropped. (Pending offsets at or past the
    /// next read offset are messages kept in flight across a seek back; reading skips them.)
    /// </summary>
    /// <returns>False when the log's high watermark cut something off (the next read offset or a pending offset past
    /// it): what lies beyond is read again once the log has it.</returns>
    public bool Restore(long nextRead, Dictionary<long, CursorEntryState> entries)
    {
        NextRead = Math.Clamp(nextRead, Log.StartOffset, Math.Max(Log.StartOffset, Log.HighWatermark));
        var complete = NextRead >= nextRead;
        var requeued = new List<long>();
        foreach (var (offset, e) in entries)
        {
            if (offset < Log.StartOffset || offset >= Log.HighWatermark)
            {
                complete &= offset < Log.StartOffset;
                continue;
            }

            var entry = new PendingMessage { Attempts = e.Attempts };
            if (e.DueMs > 0)
            {
                entry.State = PendingState.Deferred;
                entry.Due = e.DueMs;
                _deferredByDue.Enqueue(offset, e.DueMs);
                DeferredCount++;
            }
            else
            {
                entry.State = PendingState.Requeued;
                requeued.Add(offset);
            }

            Pending[offset] = entry;
        }

        requeued.Sort();
        foreach (var offset in requeued)
        {
            _requeued.Enqueue(offset);
        }

        return complete;
    }

    /// <summary>
    /// Cluster mode, a follower's copy: the leader's cursor state (replicated) replaces this one's, as
    /// <see cref="Restore"/> defines it (in flight and waiting come back requeued with their attempts, deferred keep
    /// their due time). Whatever this copy held is forgotten; owners of messages still in flight here (a leader that
    /// just became a follower) are added to <paramref name="released"/>, once per message.
    /// </summary>
    /// <returns>See <see cref="Restore"/>.</returns>
    public bool ReplaceState(PartitionCursorState state, List<IChannelConsumer> released)
    {
        Generation++;
        foreach (var pair in Pending)
        {
            if (pair.Value.State == PendingState.InFlight && pair.Value.Owner != null)
            {
                released.Add(pair.Value.Owner);
            }
        }

        Pending.Clear();
        _inFlightByDeadline.Clear();
        _requeued.Clear();
        while (_ready.TryDequeue(out var stale))
        {
            _channel.OnReadyDequeued(stale.Body.Length);
        }

        _deferredByDue.Clear();
        InFlightCount = 0;
        DeferredCount = 0;
        QueuedCount = 0;
        var complete = Restore(state.NextRead, state.Pending);
        ReplicatedVersion = complete ? state.Version : 0;
        FillSignal.Set();
        return complete;
    }

    /// <summary>Cluster mode, a follower's copy: the version of the leader's state last replaced in whole (0: none, or
    /// cut by this log's high watermark, so the leader sends it again).</summary>
    public long ReplicatedVersion { get; private set; }

    /// <summary>Channel lock held: the durable part of this cursor's state, copied (O(pending)).</summary>
    public void CaptureState(PartitionCursorState into)
    {
        into.Changed = true;
        into.NextRead = NextRead;
        if (into.Pending.EnsureCapacity(0) > 4 * Math.Max(Pending.Count, 1024))
        {
            into.ResetPending(Pending.Count); // clearing a dictionary costs its capacity: do not reuse a huge one
        }
        else
        {
            into.Pending.Clear();
        }

        into.Pending.EnsureCapacity(Pending.Count);
        foreach (var (offset, entry) in Pending)
        {
            into.Pending.Add(offset, new CursorEntryState
            {
                Attempts = entry.Attempts,
                InFlight = entry.State == PendingState.InFlight,
                DueMs = entry.State == PendingState.Deferred ? entry.Due : 0,
            });
        }
    }

    private string? CheckOwned(long offset, IChannelConsumer client)
    {
        if (!Pending.TryGetValue(offset, out var entry) || entry.State != PendingState.InFlight)
        {
            return "ID not in flight";
        }

        return ReferenceEquals(entry.Owner, client) ? null : "client does not own message";
    }

    private void RebuildInFlightHeap()
    {
        _inFlightByDeadline.Clear();
        foreach (var (offset, entry) in Pending)
        {
            if (entry.State == PendingState.InFlight)
            {
                _inFlightByDeadline.Enqueue(offset, entry.Due);
            }
        }
    }
}
