namespace NsqSharp.Client;

/// <summary>Where a new channel subscription starts reading (NsqSharp extension; upstream nsqd has no such notion).</summary>
public enum StartPositionKind
{
    /// <summary>Server default: an existing channel continues where it is; a new one starts as nsqd decides.</summary>
    Default,

    /// <summary>The oldest retained message.</summary>
    Oldest,

    /// <summary>Only messages published from now on.</summary>
    Newest,

    /// <summary>A log offset (per partition).</summary>
    Offset,

    /// <summary>The first message at or after a point in time.</summary>
    Timestamp,
}

/// <summary>A start position for <see cref="SubscribeOptions.StartPosition"/>.</summary>
public readonly record struct StartPosition
{
    private StartPosition(StartPositionKind kind, long offset, DateTimeOffset timestamp)
    {
        Kind = kind;
        Offset = offset;
        Time = timestamp;
    }

    /// <summary>Which kind of position.</summary>
    public StartPositionKind Kind { get; }

    /// <summary>The offset, for <see cref="StartPositionKind.Offset"/>.</summary>
    public long Offset { get; }

    /// <summary>The time, for <see cref="StartPositionKind.Timestamp"/>.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The server's default position.</summary>
    public static StartPosition Default => default;

    /// <summary>The oldest retained message.</summary>
    public static StartPosition Oldest => new(StartPositionKind.Oldest, 0, default);

    /// <summary>Only new messages.</summary>
    public static StartPosition Newest => new(StartPositionKind.Newest, 0, default);

    /// <summary>A log offset.</summary>
    public static StartPosition AtOffset(long offset) =>
        new(StartPositionKind.Offset, offset >= 0 ? offset : throw new ArgumentOutOfRangeException(nameof(offset)), default);

    /// <summary>The first message at or after <paramref name="time"/>.</summary>
    public static StartPosition AtTime(DateTimeOffset time) => new(StartPositionKind.Timestamp, 0, time);
}

/// <summary>
/// Subscription options reserved for NsqSharp server extensions (docs/PROTOCOL.md): ordered consumption and
/// start positions. The defaults subscribe exactly as upstream nsqd expects; non-default values are rejected
/// until a server offers them.
/// </summary>
public sealed record SubscribeOptions
{
    /// <summary>Deliver one message at a time per partition, in offset order (not yet offered by any server).</summary>
    public bool Ordered { get; init; }

    /// <summary>Where a new subscription starts (not yet offered by any server).</summary>
    public StartPosition StartPosition { get; init; }

    internal bool UsesExtensions => Ordered || StartPosition.Kind != StartPositionKind.Default;
}
