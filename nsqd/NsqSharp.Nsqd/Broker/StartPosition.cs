namespace NsqSharp.Nsqd.Broker;

public enum StartPositionKind
{
    Oldest,
    Newest,
    Offset,
    Timestamp,
}

/// <summary>Where a channel cursor starts or is moved to (replay).</summary>
public readonly record struct StartPosition(StartPositionKind Kind, long Value = 0)
{
    public static StartPosition Oldest => new(StartPositionKind.Oldest);

    public static StartPosition Newest => new(StartPositionKind.Newest);
}
