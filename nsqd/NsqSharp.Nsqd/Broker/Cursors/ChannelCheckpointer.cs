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

    private const int SpareShrinkAbove = 1 << 16;

    private readonly object _gate = new();
    private readonly Channel _channel;
    private readonly ILogger _logger;
    private CursorState _state;
    private CursorOp[] _spare = [];
    private bool _needsSnapshot;
    private bool _deleted;
    private long _opsPersisted;
    private long _snapshots;
    private long _resyncs;

    public ChannelCheckpointer(Channel channel, CursorFiles files, CursorState initial, bool needsSnapshot, ILogger logger)
    {
        _channel = channel;
        Files = files;
        _state = initial;
        _needsSnapshot = needsSnapshot;
        _logger = logger;
    }

    public CursorFiles Files { get; }

    /// <summary>Receives every op batch after its swap (replication); null in standalone mode.</summary>
    public ICursorOpSink? Sink { get; set; }

    /// <summary>Ops taken from the channel and made durable (appended, or covered by a snapshot).</summary>
    public long OpsPersisted => Interlocked.Read(ref _opsPersisted);

    public long SnapshotsWritten => Interlocked.Read(ref _snapshots);

    /// <summary>Times the op buffer overflowed and the live state was copied under the lock instead.</summary>
    public long Resyncs => Interlocked.Read(ref _resyncs);

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
            var resynced = false;
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

                if (ops.Overflowed)
                {
                    // The ops since the last step are gone: start again from a copy of the live state (O(pending),
                    // the old checkpoint's cost, only after the checkpointer fell behind by MaxOps).
                    _state = live?.Clone() ?? _channel.CaptureStateLocked();
                    ops.Resume(new CursorOp[Math.Min(ops.MaxOps, 1024)]);
                    count = 0;
                    _needsSnapshot = true;
                    resynced = true;
                }
                else
                {
                    if (ops.Count == 0 && !_needsSnapshot && !captureLive)
                    {
                        return null;
                    }

                    count = ops.Swap(ref _spare);
                }

                if (!captureLive)
                {
                    _channel.CheckpointLockTime.Record(Stopwatch.GetTimestamp() - started);
                }
            }

            var batch = new ReadOnlySpan<CursorOp>(_spare, 0, count);
            _state.Apply(batch);
            if (resynced)
            {
                Interlocked.Increment(ref _resyncs);
                _logger.LogWarning("channel {Topic}/{Channel}: cursor op buffer overflowed ({Max} ops); checkpointing a full copy",
                    _channel.Topic.Name, _channel.Name, _channel.Ops.MaxOps);
            }

            Notify(resynced, batch);
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

    private void Notify(bool resynced, ReadOnlySpan<CursorOp> batch)
    {
        var sink = Sink;
        if (sink == null || (!resynced && batch.IsEmpty))
        {
            return;
        }

        try
        {
            if (resynced)
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
