using Microsoft.Extensions.Logging;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Who waits for one bound of a partition log to advance: long-lived listeners (callbacks, run on the thread that
/// advanced the bound) and one-shot waiters (a shared signal, allocated only while someone waits). Each advance wakes
/// all of them; they re-check the bound themselves. A bound that goes down (truncation) wakes nobody.
/// </summary>
internal sealed class BoundWaiters
{
    private readonly object _lock = new();
    private Action[] _listeners = [];
    private TaskCompletionSource? _signal;
    private volatile bool _closed;

    public int ListenerCount => Volatile.Read(ref _listeners).Length;

    public void Add(Action listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_lock)
        {
            Volatile.Write(ref _listeners, CopyOnWriteArray.Append(_listeners, listener));
        }
    }

    public void Remove(Action listener)
    {
        lock (_lock)
        {
            Volatile.Write(ref _listeners, CopyOnWriteArray.Remove(_listeners, listener));
        }
    }

    /// <summary>The signal the next <see cref="Wake"/> completes. The caller re-checks its bound after arming (an
    /// advance published before the signal was installed would not complete it).</summary>
    public Task Arm()
    {
        while (true)
        {
            TaskCompletionSource? current = Volatile.Read(ref _signal);
            if (current is not null)
            {
                return current.Task;
            }

            if (_closed)
            {
                return Task.FromException(new ObjectDisposedException(nameof(PartitionLog)));
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (Interlocked.CompareExchange(ref _signal, created, null) is null)
            {
                if (_closed)
                {
                    created.TrySetException(new ObjectDisposedException(nameof(PartitionLog)));
                }

                return created.Task;
            }
        }
    }

    /// <summary>The bound advanced (already published): completes the signal and runs every listener.</summary>
    public void Wake(ILogger logger, string directory)
    {
        Interlocked.Exchange(ref _signal, null)?.TrySetResult();
        foreach (Action listener in Volatile.Read(ref _listeners))
        {
            try
            {
                listener();
            }
            catch (Exception e)
            {
                logger.LogError(e, "partition log {Directory}: data listener failed", directory);
            }
        }
    }

    /// <summary>The log closed: waiters fault with ObjectDisposedException from now on.</summary>
    public void Close()
    {
        _closed = true;
        Interlocked.Exchange(ref _signal, null)?.TrySetException(new ObjectDisposedException(nameof(PartitionLog)));
    }
}
