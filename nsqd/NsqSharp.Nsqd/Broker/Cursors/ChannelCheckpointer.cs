using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// Keeps a channel's cursors durable as "snapshot + ops". Each step (housekeeping, every second; shutdown) takes the
/// ops the cursors recorded since the last one by swapping the channel's op buffer under the channel lock (O(1): the
/// only work done under it), then, outside the lock, applies them to its own copy of the cursor state, hands them to
/// the sink (replication), and either appends them to the ops file and fsyncs, or, when the ops file has grown past
/// what a snapshot would take, writes a new snapshot from its copy and empties the ops file (<see cref="CursorFiles"/>).
/// Its gate serializes steps, channel deletion and tests; it is held across I/O but never while the channel lock is
/// wanted by it from inside (gate, then channel lock; never the reverse).
/// </summary>
internal sealed class ChannelCheckpointer
{
    /// <summary>The ops file is compacted once it would exceed this and the size of a snapshot.</summary>
    public const long MinOpsBytesBeforeSnapshot = 64 << 10;

    /// <summary>
    /// At most this many pending messages, and more ops than that since the last step: copying the live state under
    /// the lock is cheaper than applying the ops (a busy channel with a small pending set, the common case), and it
    /// holds the lock for a bounded time (about 0.1 ms), whatever the pending set.
    /// </summary>
    public const int DefaultCopyAtMostPending = 8192;

    private const int SpareShrinkAbove = 1 << 16;

    private readonly object _gate = new();
    private readonly Channel _channel;
    private readonly ILogger _logger;
    private CursorState _state;
    private CursorState _copy = new(); // the op buffer's copy target while recording is stopped (channel lock)
    private CursorOp[] _spare = [];
    private bool _needsSnapshot;
    private bool _deleted;
    private long _opsPersisted;
    private long _snapshots;
    private long _resyncs;
    private long _copies;
    private int _copyAtMostPending;
    private long _version; // the last version given to a partition of _state (a random start per instance)

    public ChannelCheckpointer(Channel channel, CursorFiles files, CursorState initial, bool needsSnapshot, ILogger logger)
    {
        _channel = channel;
        Files = files;
        _state = initial;
        _needsSnapshot = needsSnapshot;
        _logger = logger;
        _version = Random.Shared.NextInt64(1, long.MaxValue / 2); // versions of another instance of the channel never match
        _state.StampChanges(ref _version);

        // A busy channel with a small pending set stops recording once its ops outnumber the pending messages: the
        // next step copies the state instead, and nothing records millions of ops a second for nobody.
        channel.Ops.StopForCopy = () => Sink == null && _copyAtMostPending > 0 && _channel.PendingCountLocked <= _copyAtMostPending;
        channel.Ops.WhileStopped = CopyIfOutgrown;
        CopyAtMostPending = DefaultCopyAtMostPending;
    }

    public CursorFiles Files { get; }

    /// <summary>Receives every op batch after its swap (replication); null in standalone mode.</summary>
    public ICursorOpSink? Sink { get; set; }

    /// <summary>See <see cref="DefaultCopyAtMostPending"/>; 0 = always apply the ops (tests of the op stream).</summary>
    internal int CopyAtMostPending
    {
        get => _copyAtMostPending;
        set
        {
            lock (_channel.Sync)
            {
                _copyAtMostPending = value;
                _channel.Ops.StopForCopyAt = value > 0 ? value : int.MaxValue;
            }
        }
    }

    /// <summary>Copies of the live state (a small pending set) taken instead of applying ops.</summary>
    public long Copies => Interlocked.Read(ref _copies);

    /// <summary>Ops taken from the channel and made durable (appended, or covered by a snapshot).</summary>
    public long OpsPersisted => Interlocked.Read(ref _opsPersisted);

    public long SnapshotsWritten => Interlocked.Read(ref _snapshots);

    /// <summary>Times the op buffer overflowed and the live state was copied under the lock instead.</summary>
    public long Resyncs => Interlocked.Read(ref _resyncs);

    /// <summary>
    /// Channel lock held, recording stopped for a copy: once the pending set outgrows a cheap copy (or a sink appears),
    /// copy it now, at about that size, and record ops again from here; the next step takes this copy and applies them.
    /// </summary>
    private void CopyIfOutgrown()
    {
        if (Sink == null && _channel.PendingCountLocked <= _copyAtMostPending)
        {
            return;
        }

        _channel.CaptureStateLocked(_copy);
        _channel.Ops.ResumeFromCopy();
        Interlocked.Increment(ref _copies);
    }

    /// <summary>Tests: the state being persisted, by reference (only valid on the checkpointing thread, e.g. in a
    /// <see cref="CursorFiles.OnStep"/> hook).</summary>
    internal CursorState StateUnsafe => _state;

    /// <summary>Tests: the next step writes a snapshot whatever the size of the ops file.</summary>
    internal void ForceSnapshot()
    {
        lock (_gate)
        {
            _needsSnapshot = true;
        }
    }

    /// <summary>
    /// One checkpoint step; does nothing when nothing changed. I/O errors propagate (the caller logs them) and leave
    /// a snapshot due, so the next step writes the whole state: the ops taken here are already in the copy.
    /// </summary>
    public void Checkpoint() => Step(captureLive: false);

    /// <summary>Tests: a checkpoint step that also copies the live cursors in the same lock, so the caller can compare
    /// them with the checkpointer's own state (returned as a clone) at exactly that point of the op stream.</summary>
    internal (CursorState Mine, CursorState Live) CheckpointAndCompare()
    {
        lock (_gate)
        {
            var live = Step(captureLive: true) ?? throw new InvalidOperationException("channel deleted");
            return (_state.Clone(), live);
        }
    }

    private CursorState? Step(bool captureLive)
    {
        lock (_gate)
        {
            if (_deleted)
            {
                return null;
            }

            var stepStarted = Stopwatch.GetTimestamp();

            int count;
            CursorState? live = null;
            var resynced = false; // the buffer overflowed (a warning)
            var copied = false;   // the live state was copied instead of the ops applied
            var lost = false;     // the ops since the last step are incomplete (a sink must start again)
            lock (_channel.Sync)
            {
                var started = Stopwatch.GetTimestamp();
                if (_channel.IsDeletingLocked)
                {
                    return null;
                }

                var ops = _channel.Ops;
                if (captureLive)
                {
                    live = _channel.CaptureStateLocked();
                }

                if (ops.Overflowed || ops.StoppedForCopy)
                {
                    // The ops since the last step are gone: start again from a copy of the live state. Cheap when the
                    // buffer stopped for it (a small pending set); O(pending), the old checkpoint's cost, only after
                    // the checkpointer fell behind by MaxOps.
                    resynced = ops.Overflowed;
                    copied = !resynced;
                    lost = true;
                    if (live != null)
                    {
                        _state = live.Clone();
                    }
                    else
                    {
                        _channel.CaptureStateLocked(_state);
                    }

                    ops.Resume(); // (a copy taken while stopped is superseded by this one)
                    count = 0;
                    _needsSnapshot = true;
                }
                else
                {
                    if (ops.Count == 0 && !_needsSnapshot && !captureLive && !ops.ResumedFromCopy)
                    {
                        return null;
                    }

                    if (ops.ResumedFromCopy)
                    {
                        // Recording stopped and resumed from a copy taken then: that copy is the base of these ops.
                        (_state, _copy) = (_copy, _state);
                        ops.CopyTaken();
                        _needsSnapshot = true;
                        lost = true; // the ops dropped before the copy never reached a sink either
                    }
                    else if (!captureLive && CopyAtMostPending > 0 && ops.Count > CopyAtMostPending && _channel.PendingCountLocked <= CopyAtMostPending)
                    {
                        _channel.CaptureStateLocked(_state); // reuses the copy's dictionaries: no allocation
                        copied = true;
                        _needsSnapshot = true; // the ops are not applied, so they cannot follow the old snapshot
                    }

                    count = ops.Swap(ref _spare);
                }

                if (!captureLive)
                {
                    _channel.CheckpointLockTime.Record(Stopwatch.GetTimestamp() - started);
                }
            }

            var batch = new ReadOnlySpan<CursorOp>(_spare, 0, count);
            if (copied)
            {
                Interlocked.Increment(ref _copies);
            }
            else
            {
                _state.Apply(batch);
            }

            _state.StampChanges(ref _version);

            if (resynced)
            {
                Interlocked.Increment(ref _resyncs);
                _logger.LogWarning("channel {Topic}/{Channel}: cursor op buffer overflowed ({Max} ops); checkpointing a full copy",
                    _channel.Topic.Name, _channel.Name, _channel.Ops.MaxOps);
            }

            Notify(lost, batch);
            try
            {
                Persist(batch);
            }
            finally
            {
                _channel.CheckpointStepTime.Record(Stopwatch.GetTimestamp() - stepStarted);
            }

            if (_spare.Length > SpareShrinkAbove && count < _spare.Length / 4)
            {
                _spare = new CursorOp[_spare.Length / 2]; // a burst grew both arrays; give the memory back slowly
            }

            return live ?? _state;
        }
    }

    private void Persist(ReadOnlySpan<CursorOp> batch)
    {
        var snapshotBytes = ChannelCheckpoint.SizeV2(_state.Partitions.Count, _state.PendingCount);
        var snapshot = _needsSnapshot || !Files.CanAppend ||
                       Files.OpsBytes + CursorOpLog.SizeOf(batch.Length) > Math.Max(MinOpsBytesBeforeSnapshot, snapshotBytes);
        _needsSnapshot = true; // until the write below has succeeded
        if (snapshot)
        {
            Files.WriteSnapshot(_state);
            Interlocked.Increment(ref _snapshots);
        }
        else
        {
            Files.AppendOps(batch);
        }

        Interlocked.Add(ref _opsPersisted, batch.Length);
        _needsSnapshot = false;
    }

    private void Notify(bool lost, ReadOnlySpan<CursorOp> batch)
    {
        var sink = Sink;
        if (sink == null || (!lost && batch.IsEmpty))
        {
            return;
        }

        try
        {
            if (lost)
            {
                sink.OnResync(_channel, _state);
            }
            else
            {
                sink.OnOps(_channel, batch);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "channel {Topic}/{Channel}: cursor op sink failed", _channel.Topic.Name, _channel.Name);
        }
    }

    /// <summary>
    /// Cluster mode, a leader serving a follower: a copy of one partition's checkpointed state (what the last step
    /// made durable), or null when its version is <paramref name="knownVersion"/> (the follower has it) or the channel
    /// has no such partition or is deleted. O(the partition's pending set), under the gate (not the channel lock).
    /// </summary>
    public PartitionCursorState? Export(int partition, long knownVersion)
    {
        lock (_gate)
        {
            if (_deleted || !_state.TryGetPartition(partition, out var p) || p.Version == knownVersion)
            {
                return null;
            }

            return p.Copy();
        }
    }

    /// <summary>The channel is being deleted: no step writes after this, and both files go.</summary>
    public void Delete()
    {
        lock (_gate)
        {
            _deleted = true;
            Files.Delete();
        }
    }
}
