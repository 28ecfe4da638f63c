using System.Diagnostics;

namespace NsqSharp.Bench.Load;

/// <summary>
/// Shared start/stop for one run: workers connect, then wait for <see cref="Started"/> so every
/// connection begins at once (as bench_writer's goChan does); the loops poll <see cref="StopRequested"/>.
/// </summary>
internal sealed class RunControl
{
    private readonly TaskCompletionSource _start = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stop;

    public Task Started => _start.Task;

    public long StartTimestamp { get; private set; }

    public bool StopRequested => _stop;

    /// <summary>Cancelled on stop so blocked receives return; loops must treat it as a normal end.</summary>
    public CancellationTokenSource Abort { get; } = new();

    public void Start()
    {
        StartTimestamp = Stopwatch.GetTimestamp();
        _start.TrySetResult();
    }

    public void Stop() => _stop = true;

    public TimeSpan Elapsed => StartTimestamp == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(StartTimestamp);
}
