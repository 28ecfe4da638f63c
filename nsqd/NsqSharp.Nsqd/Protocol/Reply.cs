using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// One answer in a connection's ordered reply queue. Publishes are queued with their pending
/// durable-append task so a client may pipeline PUBs while replies still go out in order.
/// </summary>
internal readonly struct Reply
{
    private Reply(FrameType type, byte[]? payload, ProtocolError? error, ValueTask publish, string? publishCommand,
        byte[]? rented, TaskCompletionSource? marker)
    {
        Type = type;
        Payload = payload;
        Error = error;
        Publish = publish;
        PublishCommand = publishCommand;
        RentedBuffer = rented;
        Marker = marker;
    }

    public FrameType Type { get; }
    public byte[]? Payload { get; }
    public ProtocolError? Error { get; }
    public ValueTask Publish { get; }

    /// <summary>PUB, MPUB or DPUB when this reply waits for a publish; names the E_*_FAILED error.</summary>
    public string? PublishCommand { get; }

    /// <summary>Pooled body buffer to return once the publish completed.</summary>
    public byte[]? RentedBuffer { get; }

    /// <summary>Completed when every earlier reply has been written (used before stream upgrades).</summary>
    public TaskCompletionSource? Marker { get; }

    public static Reply Frame(FrameType type, byte[] payload) => new(type, payload, null, default, null, null, null);

    public static Reply Failure(ProtocolError error) => new(FrameType.Error, null, error, default, null, null, null);

    public static Reply Published(string command, ValueTask publish, byte[]? rented) => new(FrameType.Response, null, null, publish, command, rented, null);

    public static Reply Barrier(TaskCompletionSource marker) => new(FrameType.Response, null, null, default, null, null, marker);
}
