namespace NsqSharp.Cluster.Metadata;

/// <summary>
/// A lease kept alive in the background. Keys put with its id vanish when it expires. <see cref="Lost"/> fires when
/// the store said it expired or when no keep-alive succeeded within the TTL: from then on, whatever the holder
/// registered under it must be assumed gone (a lease is liveness, never a fence).
/// </summary>
public interface IStoreLease : IAsyncDisposable
{
    long Id { get; }

    TimeSpan Ttl { get; }

    CancellationToken Lost { get; }

    /// <summary>Revokes the lease (its keys are deleted at once) and stops the keep-alive.</summary>
    Task RevokeAsync(CancellationToken cancellationToken = default);
}
