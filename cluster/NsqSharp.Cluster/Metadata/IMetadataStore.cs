namespace NsqSharp.Cluster.Metadata;

/// <summary>
/// The cluster's coordination store (etcd v3), reduced to what the controller and the nsqd agents need: reads with
/// the store revision they saw, compare-and-swap transactions, leases, and watches that resume where they left off.
/// Every change of shared state goes through <see cref="TransactAsync"/> guarded by a revision (fencing), never by
/// "I hold a lease". Implementations raise <see cref="MetadataStoreUnavailableException"/> when the store cannot be
/// reached, so callers can refuse unsafe work instead of guessing.
/// </summary>
public interface IMetadataStore : IAsyncDisposable
{
    /// <summary>One key, or null when absent; <see cref="ReadResult.Revision"/> is the store revision of the read.</summary>
    Task<ReadResult> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every key under a prefix, in key order, read at one revision.</summary>
    Task<ReadResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Unconditional put (only for keys nobody else writes: a node's own registration).</summary>
    Task<long> PutAsync(string key, ReadOnlyMemory<byte> value, long leaseId = 0, CancellationToken cancellationToken = default);

    /// <summary>Unconditional delete of a key or, with <paramref name="prefix"/>, of every key under it.</summary>
    Task<long> DeleteAsync(string key, bool prefix = false, CancellationToken cancellationToken = default);

    /// <summary>If every condition holds, applies <see cref="Transaction.OnSuccess"/>, else <see cref="Transaction.OnFailure"/>; atomically.</summary>
    Task<TransactionResult> TransactAsync(Transaction transaction, CancellationToken cancellationToken = default);

    /// <summary>Grants a lease and keeps it alive until disposed or lost (see <see cref="IStoreLease.Lost"/>).</summary>
    Task<IStoreLease> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>
    /// Changes under a prefix after <paramref name="afterRevision"/>, in revision order, each batch once, across
    /// reconnects. Throws <see cref="WatchCompactedException"/> when the store no longer has that history (the
    /// caller re-reads the prefix and watches again from the read's revision).
    /// </summary>
    IAsyncEnumerable<WatchBatch> WatchPrefixAsync(string prefix, long afterRevision, CancellationToken cancellationToken = default);
}
