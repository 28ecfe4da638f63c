using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;

namespace NsqSharp.Cluster.State;

/// <summary>
/// Keeps a <see cref="ClusterView"/> of one cluster current: reads everything under the cluster's root, then applies
/// the watch's changes from the read's revision on, batch by batch (one view per store revision, never a half-applied
/// transaction). When the history it needs was compacted it reads everything again. Readers take
/// <see cref="Current"/> or wait for a condition; the controller and the nsqd agents both run on it.
/// </summary>
public sealed class ClusterWatcher : IAsyncDisposable
{
    private readonly IMetadataStore _store;
    private readonly ClusterKeysParser _parser;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClusterView _current = ClusterView.Empty;
    private Task? _loop;

    public ClusterWatcher(IMetadataStore store, ClusterKeys keys, ILogger? logger = null)
    {
        _store = store;
        _parser = new ClusterKeysParser(keys);
        _logger = logger ?? NullLogger.Instance;
    }

    public ClusterKeys Keys => _parser.Keys;

    public ClusterView Current => Volatile.Read(ref _current);

    /// <summary>Reads the state once (so <see cref="Current"/> is complete when this returns), then follows it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var revision = await LoadAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => FollowAsync(revision, _stop.Token), CancellationToken.None);
    }

    /// <summary>Completes with the first view (current or later) that satisfies <paramref name="condition"/>.</summary>
    public async Task<ClusterView> WaitForAsync(Func<ClusterView, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (condition(_current))
                {
                    return _current;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Completes at the next change of the view (or at once if it changed since <paramref name="seen"/>).</summary>
    public Task<ClusterView> ChangedSinceAsync(ClusterView seen, CancellationToken cancellationToken) =>
        WaitForAsync(view => !ReferenceEquals(view, seen), cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }

    private async Task<long> LoadAsync(CancellationToken ct)
    {
        var all = await _store.GetPrefixAsync(Keys.Root, ct).ConfigureAwait(false);
        var view = ClusterView.Empty;
        foreach (var value in all.Values)
        {
            view = view.ApplyPut(_parser, value.Key, value.Value, value.ModRevision);
        }

        Publish(view with { Revision = all.Revision });
        return all.Revision;
    }

    private async Task FollowAsync(long revision, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await foreach (var batch in _store.WatchPrefixAsync(Keys.Root, revision, ct).ConfigureAwait(false))
                {
                    var view = Current;
                    foreach (var e in batch.Events)
                    {
                        view = e.Kind == WatchEventKind.Put ? view.ApplyPut(_parser, e.Key, e.Value, e.Revision) : view.ApplyDelete(_parser, e.Key);
                    }

                    revision = batch.Revision;
                    Publish(view with { Revision = revision });
                }
            }
            catch (WatchCompactedException e)
            {
                _logger.LogWarning("cluster state history compacted at {Revision}: reading it again", e.CompactRevision);
                revision = await RetryAsync(LoadAsync, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Never stop following: a watcher that dies silently would freeze the node's view of the cluster.
                _logger.LogWarning("cluster state watch: {Reason}; resuming from revision {Revision}", e.Message, revision);
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<long> RetryAsync(Func<CancellationToken, Task<long>> action, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await action(ct).ConfigureAwait(false);
            }
            catch (MetadataStoreUnavailableException e)
            {
                _logger.LogWarning("cluster state read: {Reason}", e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            }
        }
    }

    private void Publish(ClusterView view)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _current = view;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
