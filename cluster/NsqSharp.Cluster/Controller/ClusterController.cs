using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;

namespace NsqSharp.Cluster.Controller;

/// <summary>Controller settings (nsqlookupd flags in cluster mode).</summary>
public sealed class ControllerOptions
{
    /// <summary>TTL of the controller's election lease: how long a dead controller holds the role.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Let a replica outside the ISR lead when no ISR member is alive (loses what only the ISR had).</summary>
    public bool AllowUncleanElection { get; init; }
}

/// <summary>
/// The cluster controller, run by every nsqlookupd in cluster mode and active on the one elected through etcd. While
/// it holds the role it keeps every partition led by a live node: when a leader's node key expires it picks a new
/// leader (<see cref="LeaderChoice"/>) and writes the new state fenced by its term and the partition's revision.
/// When it loses the role it stops writing and campaigns again.
/// </summary>
public sealed class ClusterController(IMetadataStore store, ClusterWatcher watcher, string candidateId, ControllerOptions options, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly ClusterStateWriter _writer = new(store, watcher.Keys);
    private long _failovers;

    /// <summary>True while this instance holds the controller role.</summary>
    public bool IsActive { get; private set; }

    /// <summary>Leader changes this instance has written.</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var lease = await store.GrantLeaseAsync(options.LeaseTtl, ct).ConfigureAwait(false);
                await using var leadership = await new LeaderElection(store, watcher.Keys.Controller, _logger).CampaignAsync(candidateId, lease, ct).ConfigureAwait(false);
                using var term = CancellationTokenSource.CreateLinkedTokenSource(ct, leadership.Lost);
                IsActive = true;
                _logger.LogInformation("controller: {Candidate} active (term {Term})", candidateId, leadership.Term);
                try
                {
                    await ReconcileLoopAsync(leadership, term.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (term.IsCancellationRequested)
                {
                    // The term ended (stopped or lost): fall through to resign or report it, rather than skip both.
                }
                finally
                {
                    IsActive = false;
                }

                if (!ct.IsCancellationRequested)
                {
                    _logger.LogWarning("controller: {Candidate} lost the role (term {Term})", candidateId, leadership.Term);
                }
                else
                {
                    await leadership.ResignAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("controller: {Reason}; campaigning again", e.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task ReconcileLoopAsync(Leadership leadership, CancellationToken ct)
    {
        var view = watcher.Current;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(view, leadership, ct).ConfigureAwait(false);
            }
            catch (MetadataStoreUnavailableException e)
            {
                _logger.LogWarning("controller: {Reason}", e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
                continue;
            }

            var seen = view;
            view = await watcher.ChangedSinceAsync(seen, ct).ConfigureAwait(false);
        }
    }

    /// <summary>One pass: every partition whose leader is not alive gets a new one (or goes offline).</summary>
    private async Task ReconcileAsync(ClusterView view, Leadership leadership, CancellationToken ct)
    {
        var live = view.Nodes.Keys.ToHashSet(StringComparer.Ordinal);
        foreach (var topic in view.Topics.Values)
        {
            foreach (var partition in topic.Partitions.Values)
            {
                if (LeaderChoice.Decide(partition.State, live, options.AllowUncleanElection) is not { } next)
                {
                    continue;
                }

                var written = await _writer.UpdatePartitionAsync(topic.Name, partition.Partition, partition.ModRevision, next, leadership.Fence, ct).ConfigureAwait(false);
                if (written is not null)
                {
                    Interlocked.Increment(ref _failovers);
                    _logger.LogWarning("controller: {Topic}/{Partition} leader {Old} -> {New} (epoch {Epoch}, isr {Isr})",
                        topic.Name, partition.Partition, partition.State.Leader ?? "none", next.Leader ?? "none (offline)", next.LeaderEpoch, string.Join(",", next.Isr));
                }
            }
        }
    }
}
