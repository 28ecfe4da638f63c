namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// An auto-reset wake-up for one background loop: Set() wakes the current waiter, or the next
/// one if nobody waits. Cheap when already signalled; allocates only when a loop goes idle.
/// </summary>
public sealed class AsyncSignal
{
    private readonly object _gate = new();
    private TaskCompletionSource? _waiter;
    private bool _signaled;

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_gate)
        {
            waiter = _waiter;
            _waiter = null;
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

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task.WaitAsync(ct);
        }
    }
}
