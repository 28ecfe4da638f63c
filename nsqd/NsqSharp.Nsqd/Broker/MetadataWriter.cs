using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Metadata;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// Writes nsqd.json in the background, coalescing requests: any number of changes made while one write runs
/// are covered by the next write (group commit for metadata). Creating 50,000 topics therefore costs a few
/// hundred writes, not 50,000 rewrites of a growing file. Nothing acknowledged depends on it: a topic's
/// directory and a channel's cursor file are found at start even when the crash came before the write.
/// </summary>
internal sealed class MetadataWriter
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly Func<NodeMetadata> _snapshot;
    private readonly ILogger _logger;
    private readonly AsyncSignal _requestedSignal = new();
    private readonly object _writeGate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(long Generation, TaskCompletionSource Done)> _waiters = [];
    private Task? _loop;
    private long _requested;
    private long _written;

    public MetadataWriter(string path, Func<NodeMetadata> snapshot, ILogger logger)
    {
        _path = path;
        _snapshot = snapshot;
        _logger = logger;
    }

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Something changed: write soon. Never blocks.</summary>
    public void Request()
    {
        Interlocked.Increment(ref _requested);
        SignalWriter();
    }

    /// <summary>Something changed: completes once a write that includes it is on disk (operator actions wait on this).</summary>
    public Task RequestAndWaitAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((Interlocked.Increment(ref _requested), done));
        }

        SignalWriter();
        return done.Task;
    }

    /// <summary>
    /// Stops the loop and writes once more (shutdown). A writer that never started writes nothing: the broker
    /// failed to load (a corrupt nsqd.json, say) and must leave the file as it found it.
    /// </summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop == null)
        {
            return;
        }

        await _loop.ConfigureAwait(false);

        var target = Interlocked.Read(ref _requested);
        if (Write())
        {
            Complete(target);
        }
    }

    private void SignalWriter() => _requestedSignal.Set();

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _requestedSignal.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (Interlocked.Read(ref _written) < Interlocked.Read(ref _requested) && !ct.IsCancellationRequested)
            {
                // Everything requested before the snapshot is taken is in this write.
                var target = Interlocked.Read(ref _requested);
                if (Write())
                {
                    Complete(target);
                    continue;
                }

                try
                {
                    await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void Complete(long generation)
    {
        Interlocked.Exchange(ref _written, Math.Max(Interlocked.Read(ref _written), generation));
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Generation <= generation)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private bool Write()
    {
        lock (_writeGate)
        {
            try
            {
                _snapshot().Save(_path);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _logger.LogError(e, "failed to persist metadata to {Path}; retrying", _path);
                return false;
            }
        }
    }
}
