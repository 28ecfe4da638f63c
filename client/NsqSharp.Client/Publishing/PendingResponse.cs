using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace NsqSharp.Client.Publishing;

/// <summary>
/// The awaitable answer to one pipelined command, pooled so a publish allocates no Task. Two parties own it:
/// the connection's response queue (until nsqd answers or the connection dies) and the awaiting caller
/// (until it reads the result); it returns to the pool when both let go, so a cancelled caller never lets
/// a later response land in a reused object.
/// </summary>
internal sealed class PendingResponse : IValueTaskSource
{
    private const int PoolLimit = 1024;
    private static readonly ConcurrentQueue<PendingResponse> Pool = new();
    private static int s_pooled;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private int _owners;
    private int _completed;

    /// <summary>True once a result is set (answered, failed, or the caller cancelled).</summary>
    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    public static PendingResponse Rent()
    {
        if (Pool.TryDequeue(out var item))
        {
            Interlocked.Decrement(ref s_pooled);
        }
        else
        {
            item = new PendingResponse();
        }

        item._owners = 2;
        item._completed = 0;
        return item;
    }

    /// <summary>The caller's awaitable. Cancellation only stops the wait: the command may already be on its way.</summary>
    public ValueTask AsValueTask(CancellationToken cancellationToken)
    {
        var task = new ValueTask(this, _core.Version);
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingResponse)state!).TrySetResult(new OperationCanceledException(token)), this);
        }

        return task;
    }

    /// <summary>Called by the response queue owner: nsqd answered (error null) or the command failed.</summary>
    public void Complete(Exception? error)
    {
        TrySetResult(error);
        Release();
    }

    /// <summary>Gives back a rented item that was never queued nor awaited.</summary>
    public void ReturnUnused()
    {
        _owners = 1;
        Release();
    }

    public void GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            _cancellation.Dispose();
            _cancellation = default;
            Release();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void TrySetResult(Exception? error)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        if (error == null)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(error);
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _owners) != 0)
        {
            return;
        }

        _core.Reset();
        if (Interlocked.Increment(ref s_pooled) <= PoolLimit)
        {
            Pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }
}
