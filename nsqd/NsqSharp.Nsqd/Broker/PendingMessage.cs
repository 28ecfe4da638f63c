namespace NsqSharp.Nsqd.Broker;

public enum PendingState : byte
{
    /// <summary>Read from the log and waiting in the channel's ready queue.</summary>
    Queued,

    /// <summary>Sent to a client, waiting for FIN/REQ/TOUCH or the timeout.</summary>
    InFlight,

    /// <summary>Waiting for its due time (DPUB, REQ with delay).</summary>
    Deferred,

    /// <summary>Due for redelivery; the fill loop re-reads it from the log.</summary>
    Requeued,
}

/// <summary>
/// Bookkeeping for one unacknowledged offset of a channel cursor. Acked offsets have no entry:
/// the ack floor is the smallest pending offset (or the next read offset when none is pending).
/// </summary>
public struct PendingMessage
{
    public PendingState State;
    public ushort Attempts;

    /// <summary>In flight while a seek back read past it: its FIN requeues it (the replay delivers it again).</summary>
    public bool ReplayAfter;
    public int Generation;
    public IChannelConsumer? Owner;

    /// <summary>In flight: monotonic ms deadline (Clock.MonotonicMs). Deferred: unix ms due time.</summary>
    public long Due;

    /// <summary>Monotonic ms when delivered (TOUCH may not extend past this + max-msg-timeout).</summary>
    public long DeliveredAt;

    public long TimestampNs;
}
