namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// An auto-reset wake-up for one background loop: Set() wakes the current waiter, or the next
/// one if nobody waits. Cheap when already signalled; allocates only when a loop goes idle.
/// </summary>
/// <remarks>
/// Repeated waits on the same token while unsignalled share one pending task, so a loop that is
/// woken by something else and waits again (or a caller that races the wait against another task)
/// never stacks continuations or cancellation registrations: at most one of each exists at a time.
/// </remarks>
public sealed class AsyncSignal
{
    private readonly object _gate = new();
    private TaskCompletionSource? _waiter;
    private Task? _waitTask;
    private CancellationToken _waitToken;
    private bool _signaled;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = _waiter;
            _waiter = null;
            _waitTask = null;
            if (waiter == null)
            {
                _signaled = true;
            }
        }

        waiter?.TrySetResult();
    }

    public Task WaitAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            if (_signaled)
            {
                _signaled = false;
                return Task.CompletedTask;
            }

            if (_waitTask != null && _waitToken == ct && !_waitTask.IsCompleted)
            {
                return _waitTask;
            }

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitTask = ct.CanBeCanceled ? _waiter.Task.WaitAsync(ct) : _waiter.Task;
            _waitToken = ct;
            return _waitTask;
        }
    }
}
