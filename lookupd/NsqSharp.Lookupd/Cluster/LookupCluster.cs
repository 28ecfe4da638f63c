using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Controller;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>
/// nsqlookupd's part in cluster mode: the etcd store, a <see cref="ClusterWatcher"/> keeping this instance's view of
/// the cluster, and a <see cref="ClusterController"/> candidate (active on the one lookupd etcd elects). Starting
/// never waits for etcd: a background loop reads the state until etcd answers (saying so at most every 10 s), then
/// follows it and campaigns. Until that first read <see cref="IsAvailable"/> is false and cluster requests are
/// refused. Stopping stops the controller, which resigns the role so another lookupd takes it at once.
/// Topic and channel changes are in LookupCluster.Topics.cs.
/// </summary>
internal sealed partial class LookupCluster : IAsyncDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);
    private readonly LookupdOptions _options;
    private readonly ILogger _logger;
    private readonly EtcdMetadataStore _store;
    private readonly ClusterWatcher _watcher;
    private readonly CancellationTokenSource _stop = new();
    private volatile ClusterController? _controller;
    private Task _run = Task.CompletedTask;
    private volatile bool _available;

    public LookupCluster(LookupdOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _logger = new RateLimitedLogger(loggerFactory.CreateLogger("nsqlookupd.cluster"), LogInterval);
        Keys = new ClusterKeys(options.ClusterName);
        _store = new EtcdMetadataStore(string.Join(',', options.EtcdEndpoints), options.EtcdRequestTimeout, _logger);
        _watcher = new ClusterWatcher(_store, Keys, _logger);
        Writer = new ClusterStateWriter(_store, Keys);
    }

    public ClusterKeys Keys { get; }

    public ClusterStateWriter Writer { get; }

    /// <summary>This instance's controller candidate id: broadcast address and HTTP port (null until started).</summary>
    public string? CandidateId { get; private set; }

    /// <summary>True once the cluster state has been read from etcd (it is followed from then on).</summary>
    public bool IsAvailable => _available;

    /// <summary>True while this instance holds the controller role.</summary>
    public bool IsController => _controller?.IsActive == true;

    /// <summary>The latest view (empty until <see cref="IsAvailable"/>).</summary>
    public ClusterView View => _watcher.Current;

    public void Start(string candidateId)
    {
        CandidateId = candidateId;
        _logger.LogInformation("cluster {Cluster}: etcd {Endpoints}, controller candidate {Candidate}",
            Keys.ClusterName, string.Join(",", _options.EtcdEndpoints), candidateId);
        _run = Task.Run(() => RunAsync(candidateId, _stop.Token));
    }

    public async ValueTask DisposeAsync()
    {
        var wasController = IsController;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.ConfigureAwait(false);
            if (wasController)
            {
                _logger.LogInformation("cluster {Cluster}: resigned the controller role", Keys.ClusterName);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // Stopping mid-call (gRPC reports it in its own ways) or a resign that did not reach etcd: the role, if
            // held, ends with its lease instead.
            _logger.LogWarning("cluster {Cluster}: stopped with {Reason}", Keys.ClusterName, e.Message);
        }

        await _watcher.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Waits (bounded by the etcd request timeout) until this instance's view satisfies the condition: a
    /// change made here is visible in the next request's answers. Null when it did not happen in time.</summary>
    public async Task<ClusterView?> WaitForViewAsync(Func<ClusterView, bool> condition, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        bound.CancelAfter(_options.EtcdRequestTimeout);
        try
        {
            return await _watcher.WaitForAsync(condition, bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task RunAsync(string candidateId, CancellationToken ct)
    {
        await ReadStateAsync(ct).ConfigureAwait(false);
        _available = true;
        _logger.LogInformation("cluster {Cluster}: connected to etcd; state read at revision {Revision} ({Nodes} live nodes, {Topics} topics)",
            Keys.ClusterName, View.Revision, View.Nodes.Count, View.Topics.Count);
        _controller = new ClusterController(_store, _watcher, candidateId,
            new ControllerOptions { AllowUncleanElection = _options.AllowUncleanElection }, _logger);
        await _controller.RunAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Tries the first read of the state until etcd answers.</summary>
    private async Task ReadStateAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await _watcher.StartAsync(ct).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("cluster {Cluster}: etcd unreachable ({Reason}); cluster requests answer 503 CLUSTER_UNAVAILABLE; retrying",
                    Keys.ClusterName, e.Message);
            }

            await Task.Delay(RetryInterval, ct).ConfigureAwait(false);
        }
    }
}
