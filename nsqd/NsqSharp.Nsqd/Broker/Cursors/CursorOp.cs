namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>What a <see cref="CursorOp"/> changes. The numeric values are the on-disk kind byte (.ops files).</summary>
public enum CursorOpKind : byte
{
    /// <summary>Offsets [Offset, Value) were read and are pending (waiting, 0 attempts; one that is still pending, kept
    /// in flight across a seek back, stays as it is); next read = Value. An empty
    /// run (Offset == Value) only moves the next read offset (retention skipped what was below it). Offsets between
    /// the previous next read and Offset were never pending (a gap left by retention or a damaged batch).</summary>
    Read = 1,

    /// <summary>The pending offset waits until Value (unix ms): a DPUB read ahead of its time, or REQ with a delay.</summary>
    Defer = 2,

    /// <summary>The pending offset went to a client: in flight, attempts + 1.</summary>
    Deliver = 3,

    /// <summary>The pending offset waits for redelivery, attempts kept: REQ 0, timeout, client gone, deferral due.</summary>
    Requeue = 4,

    /// <summary>The offset is no longer pending: FIN, or deleted by the hard size limit before redelivery. (The FIN of a
    /// message a seek back passed over while it was in flight is a Requeue instead: the replay delivers it again.)</summary>
    Finish = 5,

    /// <summary>Seek or empty: every pending offset that is not in flight is forgotten (in flight too if Value is 1);
    /// next read = Offset.</summary>
    Move = 6,
}

/// <summary>
/// One change of a channel cursor, as the cursor makes it under the channel lock. Applying a cursor's ops in order to
/// a copy of its state (<see cref="CursorState"/>) gives its state: that is how the checkpoint is kept without copying
/// the pending set under the lock, and how a follower will keep a replicated cursor. Deliver is not idempotent
/// (attempts + 1), so a stream must be applied exactly once: see <see cref="CursorFiles"/> for the generations that
/// guarantee it across crashes.
/// </summary>
public readonly record struct CursorOp(CursorOpKind Kind, int Partition, long Offset, long Value)
{
    public static CursorOp Read(int partition, long from, long to) => new(CursorOpKind.Read, partition, from, to);

    public static CursorOp Defer(int partition, long offset, long dueUnixMs) => new(CursorOpKind.Defer, partition, offset, dueUnixMs);

    public static CursorOp Deliver(int partition, long offset) => new(CursorOpKind.Deliver, partition, offset, 0);

    public static CursorOp Requeue(int partition, long offset) => new(CursorOpKind.Requeue, partition, offset, 0);

    public static CursorOp Finish(int partition, long offset) => new(CursorOpKind.Finish, partition, offset, 0);

    public static CursorOp Move(int partition, long nextRead, bool dropInFlight) =>
        new(CursorOpKind.Move, partition, nextRead, dropInFlight ? 1 : 0);

    public override string ToString() => Kind switch
    {
        CursorOpKind.Read => $"Read(p{Partition}, [{Offset}, {Value}))",
        CursorOpKind.Defer => $"Defer(p{Partition}, {Offset}, due {Value})",
        CursorOpKind.Move => $"Move(p{Partition}, {Offset}, dropInFlight {Value != 0})",
        _ => $"{Kind}(p{Partition}, {Offset})",
    };
}

/// <summary>
/// Receives a channel's cursor ops in batches, in order, after each checkpoint step took them from the channel (outside
/// the channel lock, on the checkpointing thread). nsqd sets none: cluster mode replicates versioned snapshots of the
/// checkpointer's state instead (<see cref="Channel.ExportCursor"/>); a sink would disable the busy-channel shortcut of
/// copying the state instead of recording ops. The span is only valid during
/// the call. Ops are complete only while <see cref="OnResync"/> has not been called since: after it the sink must
/// start again from a full copy (<see cref="CursorState.Clone"/>) of the state it is given.
/// </summary>
public interface ICursorOpSink
{
    void OnOps(Channel channel, ReadOnlySpan<CursorOp> ops);

    /// <summary>The op stream was cut (buffer overflow): the state given replaces everything before.</summary>
    void OnResync(Channel channel, CursorState state);
}
