using System.Threading.Tasks.Sources;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// One queued append (a whole encoded batch in a pooled buffer) or flush, and the awaitable its caller waits on.
/// Pooled per log: the object goes back to the pool when the caller has read its result.
/// </summary>
internal sealed class AppendRequest : IValueTaskSource<AppendResult>, IValueTaskSource
{
    private readonly PartitionLog _owner;
    private ManualResetValueTaskSourceCore<AppendResult> _core;

    public AppendRequest(PartitionLog owner)
    {
        _owner = owner;
        _core = new ManualResetValueTaskSourceCore<AppendResult> { RunContinuationsAsynchronously = true };
    }

    /// <summary>Encoded batch (rented from ArrayPool; returned by the writer once written). Null for a flush.</summary>
    public byte[]? Buffer { get; set; }

    public int Length { get; set; }

    public int Count { get; set; }

    /// <summary>Offset assigned by the writer.</summary>
    public long FirstOffset { get; set; }

    /// <summary>A flush marker rather than a batch.</summary>
    public bool IsFlush { get; set; }

    public short Version => _core.Version;

    public void SetResult(AppendResult result) => _core.SetResult(result);

    public void SetException(Exception error) => _core.SetException(error);

    public AppendResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _owner.ReturnRequest(this);
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
