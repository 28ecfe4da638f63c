using System.Threading.Tasks.Sources;

namespace NsqSharp.Nsqd.Storage;

/// <summary>What a queued <see cref="AppendRequest"/> asks the writer to do.</summary>
internal enum AppendKind
{
    /// <summary>One batch encoded by the log (offsets and epoch stamped by the writer).</summary>
    Batch,

    /// <summary>Batches copied verbatim from a leader (offsets and epochs kept; <see cref="AppendRequest.FirstOffset"/>
    /// must continue the log).</summary>
    Raw,

    /// <summary>fsync everything before it.</summary>
    Flush,

    /// <summary>Truncate the log at <see cref="AppendRequest.FirstOffset"/>.</summary>
    Truncate,
}

/// <summary>
/// One queued append (whole batches in a pooled buffer), flush or truncation, and the awaitable its caller waits on.
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

    public AppendKind Kind { get; set; }

    /// <summary>Encoded batches (rented from ArrayPool; returned by the writer once written). Null for a flush or truncation.</summary>
    public byte[]? Buffer { get; set; }

    public int Length { get; set; }

    /// <summary>Records in <see cref="Buffer"/>.</summary>
    public int Count { get; set; }

    /// <summary>Batch: assigned by the writer. Raw: the first batch's base offset. Truncate: the offset to truncate at.</summary>
    public long FirstOffset { get; set; }

    /// <summary>Raw: the first batch's leader epoch (none below the log's latest epoch is accepted).</summary>
    public long FirstEpoch { get; set; }

    /// <summary>Set by the writer when this request is refused on its own (nothing of it written).</summary>
    public Exception? Error { get; set; }

    /// <summary>Offset after the request's last record.</summary>
    public long EndOffset => FirstOffset + Count;

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
