using System.Threading.Tasks.Sources;

namespace NsqSharp.Client.Connection;

/// <summary>
/// An auto-reset event for exactly one waiter (the send loop) whose wait allocates nothing:
/// the awaitable is this object, reset between waits.
/// </summary>
internal sealed class AsyncAutoResetSignal : IValueTaskSource
{
    private readonly object _gate = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _signaled;
    private bool _waiting;

    public void Set()
    {
        lock (_gate)
        {
            if (_waiting)
            {
                _waiting = false;
                _core.SetResult(true);
            }
            else
            {
                _signaled = true;
            }
        }
    }

    public ValueTask WaitAsync()
    {
        lock (_gate)
        {
            if (_signaled)
            {
                _signaled = false;
                return default;
            }

            _core.Reset();
            _waiting = true;
            return new ValueTask(this, _core.Version);
        }
    }

    public void GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
