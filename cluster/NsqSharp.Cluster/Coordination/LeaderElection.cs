using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Metadata;

namespace NsqSharp.Cluster.Coordination;

/// <summary>
/// One elected holder of a key (the controller among the lookupd instances). A candidate wins by creating the key
/// under its lease; the key's create revision is its term and the fence of every write it makes
/// (<see cref="Leadership.Fence"/>): a deposed holder that wakes up later fails its writes because the key it
/// was created at is gone, whatever it believes about its lease.
/// </summary>
public sealed class LeaderElection(IMetadataStore store, string key, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Waits until this candidate holds the key under <paramref name="lease"/>, then returns its leadership.</summary>
    public async Task<Leadership> CampaignAsync(string candidate, IStoreLease lease, CancellationToken cancellationToken)
    {
        var value = Encoding.UTF8.GetBytes(candidate);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
        var ct = linked.Token;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var attempt = await store.TransactAsync(new Transaction()
                .If(Condition.Absent(key))
                .Then(Operation.Put(key, value, lease.Id))
                .Else(Operation.Get(key)), ct).ConfigureAwait(false);
            if (attempt.Succeeded)
            {
                _logger.LogInformation("{Candidate} elected for {Key} (term {Term})", candidate, key, attempt.Revision);
                return new Leadership(store, key, candidate, attempt.Revision, lease, _logger);
            }

            var holder = attempt.Reads[0];
            if (holder is null)
            {
                continue; // deleted between the compare and the read
            }

            if (holder.LeaseId == lease.Id)
            {
                // Ours from an earlier campaign on the same lease (a retried txn that did apply).
                return new Leadership(store, key, candidate, holder.CreateRevision, lease, _logger);
            }

            await WaitForDeleteAsync(holder.ModRevision, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The current holder's value, or null.</summary>
    public async Task<string?> CurrentHolderAsync(CancellationToken cancellationToken = default) =>
        (await store.GetAsync(key, cancellationToken).ConfigureAwait(false)).Single?.ValueText;

    private async Task WaitForDeleteAsync(long seenRevision, CancellationToken ct)
    {
        await foreach (var batch in store.WatchPrefixAsync(key, seenRevision, ct).ConfigureAwait(false))
        {
            if (batch.Events.Any(e => e.Key == key && e.Kind == WatchEventKind.Delete))
            {
                return;
            }
        }
    }
}

/// <summary>
/// A won election. <see cref="Lost"/> fires when the lease is lost or the key is deleted or re-created by anyone;
/// writes made in this term add <see cref="Fence"/> to their conditions so they apply only while it still holds.
/// </summary>
public sealed class Leadership : IAsyncDisposable
{
    private readonly IMetadataStore _store;
    private readonly CancellationTokenSource _lost;
    private readonly CancellationTokenSource _stopWatch = new();
    private readonly Task _watch;

    internal Leadership(IMetadataStore store, string key, string holder, long term, IStoreLease lease, ILogger logger)
    {
        _store = store;
        Key = key;
        Holder = holder;
        Term = term;
        _lost = CancellationTokenSource.CreateLinkedTokenSource(lease.Lost);
        _watch = WatchKeyAsync(logger);
    }

    public string Key { get; }

    public string Holder { get; }

    /// <summary>The key's create revision: increases with every election, so it orders terms.</summary>
    public long Term { get; }

    public CancellationToken Lost => _lost.Token;

    /// <summary>The condition that makes a write apply only in this term.</summary>
    public Condition Fence => Condition.CreatedAt(Key, Term);

    /// <summary>Gives the key up (only if it is still this term's) so another candidate wins at once.</summary>
    public async Task ResignAsync(CancellationToken cancellationToken = default)
    {
        await _lost.CancelAsync().ConfigureAwait(false);
        await _store.TransactAsync(new Transaction().If(Fence).Then(Operation.Delete(Key)), cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWatch.CancelAsync().ConfigureAwait(false);
        try
        {
            await _watch.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _lost.Dispose();
        _stopWatch.Dispose();
    }

    private async Task WatchKeyAsync(ILogger logger)
    {
        await Task.Yield();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopWatch.Token, _lost.Token);
        try
        {
            await foreach (var batch in _store.WatchPrefixAsync(Key, Term, linked.Token).ConfigureAwait(false))
            {
                foreach (var e in batch.Events)
                {
                    // Deleted (resigned, lease expired) or re-created by someone: this term is over. A put that keeps
                    // the create revision is the holder updating its own value.
                    if (e.Key == Key && (e.Kind == WatchEventKind.Delete || e.CreateRevision != Term))
                    {
                        logger.LogWarning("{Holder} lost {Key} (term {Term})", Holder, Key, Term);
                        await _lost.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException || linked.IsCancellationRequested)
        {
            // Stopped (disposed or the term ended): nothing to report.
        }
        catch (WatchCompactedException)
        {
            // History gone: ask the store directly whether the term still holds.
            var now = (await _store.GetAsync(Key).ConfigureAwait(false)).Single;
            if (now is null || now.CreateRevision != Term)
            {
                await _lost.CancelAsync().ConfigureAwait(false);
            }
        }
    }
}
