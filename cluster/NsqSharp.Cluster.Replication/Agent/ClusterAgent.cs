using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.State;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Cluster;

namespace NsqSharp.Cluster.Replication.Agent;

/// <summary>
/// nsqd's cluster agent (<see cref="IClusterNode"/>): joins the cluster through etcd and keeps the node's part of it
/// running. It registers the node under a lease (again after the lease is lost), follows the cluster state
/// (<see cref="ClusterWatcher"/>), runs the partition roles (<see cref="ReplicaManager"/>), serves replica fetches,
/// forwards publishes it cannot take (<see cref="PublishForwarder"/>), creates topics cluster-wide on first use and
/// keeps channels the same on every replica. Split by concern: lifecycle here, registration in
/// ClusterAgent.Registration.cs, topics in ClusterAgent.Topics.cs, channels in ClusterAgent.Channels.cs.
/// An unreachable etcd never stops nsqd: the agent says so, retries, and refuses what needs the cluster meanwhile.
/// </summary>
public sealed partial class ClusterAgent : IClusterNode
{
    private readonly ClusterAgentOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly EtcdMetadataStore _store;
    private readonly ClusterKeys _keys;
    private readonly ClusterWatcher _watcher;
    private readonly ClusterStateWriter _writer;
    private readonly AgentRoles _roles;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private NsqdServer? _server;
    private ReplicaManager? _manager;
    private FetchServer? _fetch;
    private PublishForwarder? _forwarder;
    private Task? _run;

    public ClusterAgent(ClusterAgentOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("nsqd.cluster");
        _keys = new ClusterKeys(options.ClusterName);
        _store = new EtcdMetadataStore(options.EtcdEndpoints, logger: loggerFactory.CreateLogger("nsqd.etcd"));
        _watcher = new ClusterWatcher(_store, _keys, loggerFactory.CreateLogger("nsqd.cluster"));
        _writer = new ClusterStateWriter(_store, _keys);
        _roles = new AgentRoles();
        ControlPlane = new ChannelSync(this);
    }

    /// <summary>This node's id (resolved at start: configured, stored in the data directory, or derived).</summary>
    public string NodeId { get; private set; } = "";

    public IPartitionRoles Roles => _roles;

    public IControlPlane ControlPlane { get; }

    /// <summary>True once the node has read the cluster state and registered (tests, /stats).</summary>
    public bool Joined => _joined.Task.IsCompleted;

    public ClusterView View => _watcher.Current;

    /// <summary>The partition roles, once joined (tests).</summary>
    public ReplicaManager? Manager => Volatile.Read(ref _manager);

    /// <exception cref="InvalidDataException">The configured node id is invalid or not the one the data directory belongs to.</exception>
    public Task StartAsync(NsqdServer server, CancellationToken ct)
    {
        try
        {
            NodeId = NodeIdFile.Resolve(server.Options.DataPath, _options.NodeId,
                () => NodeIdFile.Derive(server.Options.BroadcastAddress, server.BroadcastTcpPort));
        }
        catch (FormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }

        _server = server;
        _run = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task WaitUntilJoinedAsync(CancellationToken ct) => _joined.Task.WaitAsync(ct);

    public async Task ServeReplicaAsync(Stream stream, CancellationToken ct)
    {
        if (Volatile.Read(ref _fetch) is { } fetch)
        {
            await fetch.ServeAsync(stream, ct).ConfigureAwait(false);
        }

        // Not joined yet: the follower's connection ends and it retries (its fetch loop backs off).
    }

    public Task<bool> ForwardAsync(ForwardedPublish publish, CancellationToken ct)
    {
        if (Volatile.Read(ref _forwarder) is not { } forwarder)
        {
            throw new ClusterRequestException(ClusterProtocol.ClusterUnavailable, "this node has not joined the cluster yet (etcd unreachable?)");
        }

        return forwarder.ForwardAsync(publish, ct);
    }

    /// <summary>Joins (retrying while etcd is unreachable), then keeps the registration alive until stopped.</summary>
    private async Task RunAsync(CancellationToken ct)
    {
        var server = _server!;
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _watcher.StartAsync(ct).ConfigureAwait(false);
                break;
            }
            catch (Exception e) when (e is MetadataStoreUnavailableException or Grpc.Core.RpcException or HttpRequestException && !ct.IsCancellationRequested)
            {
                if (failures++ % 10 == 0)
                {
                    _logger.LogError("cluster: cannot read the cluster state from etcd {Endpoints}: {Error}; retrying (publishes and subscribes needing the cluster fail with {Code} meanwhile)",
                        _options.EtcdEndpoints, e.Message, ClusterProtocol.ClusterUnavailable);
                }

                await DelayAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }

        if (ct.IsCancellationRequested)
        {
            return;
        }

        // Cursors: a channel the leader has is created here only while the cluster state lists it (cluster-wide channels).
        var cursors = new BrokerChannelCursors(server.Broker,
            (topic, channel) => _watcher.Current.Topics.TryGetValue(topic, out var t) && t.Channels.ContainsKey(channel));
        var manager = new ReplicaManager(_watcher, _writer, new BrokerPartitionLogs(server.Broker), NodeId, _options.Replication, server.Options.Time,
            _loggerFactory.CreateLogger("nsqd.replication"))
        {
            Cursors = cursors,
        };
        manager.RoleChanged += change => server.Broker.OnPartitionRoleChanged(change.Topic, change.Partition);
        _roles.Manager = manager;
        Volatile.Write(ref _manager, manager);
        Volatile.Write(ref _fetch, new FetchServer(manager, _loggerFactory.CreateLogger("nsqd.replication"), cursors));
        Volatile.Write(ref _forwarder, new PublishForwarder(_watcher, NodeId, _options.RequestTimeout, _logger));
        manager.Start();
        _channelLoop = Task.Run(() => SyncChannelsAsync(ct), CancellationToken.None);
        _logger.LogInformation("cluster: node {Node} in cluster {Cluster} (etcd {Endpoints})", NodeId, _options.ClusterName, _options.EtcdEndpoints);
        await KeepRegisteredAsync(server, ct).ConfigureAwait(false);
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_run is not null)
        {
            await _run.ConfigureAwait(false);
        }

        if (_channelLoop is not null)
        {
            await _channelLoop.ConfigureAwait(false);
        }

        if (_forwarder is not null)
        {
            await _forwarder.DisposeAsync().ConfigureAwait(false);
        }

        if (_manager is not null)
        {
            await _manager.DisposeAsync().ConfigureAwait(false);
        }

        await _watcher.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The broker's view of the roles: the replica manager's once joined, none before (nothing leads);
    /// ephemeral topics are local to the node in cluster mode too, so they always lead.</summary>
    private sealed class AgentRoles : IPartitionRoles
    {
        public ReplicaManager? Manager { get; set; }

        public bool IsLeader(string topic, int partition) =>
            NsqSharp.Common.Protocol.NsqNames.IsEphemeral(topic) || (Manager?.IsLeader(topic, partition) ?? false);

        public bool CanAcceptPublish(string topic, int partition) =>
            NsqSharp.Common.Protocol.NsqNames.IsEphemeral(topic) || (Manager?.CanAcceptPublish(topic, partition) ?? false);
    }
}
