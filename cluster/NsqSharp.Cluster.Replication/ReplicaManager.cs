using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Replication.Follower;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.State;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Cluster.Replication;

/// <summary>
/// nsqd's replication roles, driven by the cluster state: for every partition that lists this node among its
/// replicas it runs a <see cref="PartitionLeader"/> (when the state names it leader) or a
/// <see cref="PartitionFollower"/> of the named leader, and replaces it whenever the leader or the epoch changes.
/// As leader it also keeps the ISR in the state current: every <see cref="IsrCheckInterval"/> it writes the
/// leader's proposed ISR with a compare-and-swap on the partition's mod revision, only while the state still names
/// it leader in its epoch, and uses an ISR only once written. Serves fetches (<see cref="IReplicaLookup"/>). With
/// <see cref="Cursors"/>, followers also copy the leader's channel cursors.
/// </summary>
public sealed class ReplicaManager : IReplicaLookup, IPartitionRoles, IAsyncDisposable
{
    private readonly ClusterWatcher _watcher;
    private readonly ClusterStateWriter _writer;
    private readonly IPartitionLogs _logs;
    private readonly string _selfId;
    private readonly ReplicationSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    // Written only by the manager's loop (and by DisposeAsync after it ended); read lock-free by the broker on every
    // publish and take (IPartitionRoles) and by fetches.
    private readonly ConcurrentDictionary<(string Topic, int Partition), Replica> _replicas = new();
    private Task? _loop;

    public ReplicaManager(ClusterWatcher watcher, ClusterStateWriter writer, IPartitionLogs logs, string selfId,
        ReplicationSettings settings, TimeProvider time, ILogger logger)
    {
        _watcher = watcher;
        _writer = writer;
        _logs = logs;
        _selfId = selfId;
        _settings = settings;
        _time = time;
        _logger = logger;
    }

    public TimeSpan IsrCheckInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The node's channels: followers replicate their leader's cursors into them (none: logs only).</summary>
    public IChannelCursors? Cursors { get; init; }

    /// <summary>Raised (on the manager's loop) after a local partition changed role.</summary>
    public event Action<ReplicaRoleChange>? RoleChanged;

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    public ReplicaRole RoleOf(string topic, int partition)
    {
        return _replicas.TryGetValue((topic, partition), out var r) ? r.Role : ReplicaRole.None;
    }

    public bool IsLeader(string topic, int partition) => FindLeader(topic, partition) is not null;

    public bool CanAcceptPublish(string topic, int partition) => FindLeader(topic, partition) is { HasEnoughReplicas: true };

    public PartitionLeader? FindLeader(string topic, int partition)
    {
        return _replicas.TryGetValue((topic, partition), out var r) ? r.Leader : null;
    }

    public bool HoldsPartition(string topic, int partition)
    {
        return _replicas.ContainsKey((topic, partition));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        List<Replica> all = [.. _replicas.Values];
        _replicas.Clear();

        foreach (var replica in all)
        {
            await replica.StopAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var view = _watcher.Current;
        var nextIsrCheck = _time.GetTimestamp();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ApplyAsync(view, ct).ConfigureAwait(false);
                if (_time.GetElapsedTime(nextIsrCheck) >= TimeSpan.Zero)
                {
                    await MaintainIsrAsync(view, ct).ConfigureAwait(false);
                    nextIsrCheck = _time.GetTimestamp() + (long)(IsrCheckInterval.TotalSeconds * _time.TimestampFrequency);
                }

                using var tick = CancellationTokenSource.CreateLinkedTokenSource(ct);
                tick.CancelAfter(IsrCheckInterval);
                try
                {
                    view = await _watcher.ChangedSinceAsync(view, tick.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    view = _watcher.Current;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "replication: applying cluster state failed; retrying");
                await Task.Delay(_settings.RetryDelay, ct).ConfigureAwait(false);
                view = _watcher.Current;
            }
        }
    }

    /// <summary>Starts, replaces or stops local replicas so they match the state.</summary>
    private async Task ApplyAsync(ClusterView view, CancellationToken ct)
    {
        var wanted = new HashSet<(string, int)>();
        foreach (var topic in view.Topics.Values)
        {
            foreach (var partition in topic.Partitions.Values)
            {
                var state = partition.State;
                if (!state.Replicas.Contains(_selfId))
                {
                    continue;
                }

                var key = (topic.Name, partition.Partition);
                wanted.Add(key);
                _replicas.TryGetValue(key, out var current);

                var role = state.Leader == _selfId ? ReplicaRole.Leader : state.Leader is null ? ReplicaRole.None : ReplicaRole.Follower;
                if (current is not null && current.Role == role && current.Epoch == state.LeaderEpoch && current.LeaderId == state.Leader && !current.Ended)
                {
                    if (role == ReplicaRole.Leader && !current.Leader!.Isr.SequenceEqual(state.Isr))
                    {
                        current.Leader.IsrCommitted(state.Isr); // written by us (or by the controller at a failover)
                    }

                    continue;
                }

                if (current is not null)
                {
                    await current.StopAsync().ConfigureAwait(false);
                }

                var local = topic.Partitions.Values.Where(p => p.State.Replicas.Contains(_selfId)).Select(p => p.Partition).ToArray();
                var log = await _logs.GetOrCreateAsync(topic.Name, partition.Partition, local, ct).ConfigureAwait(false);
                var next = Start(topic.Name, partition.Partition, log, state, topic.Config?.MinIsr ?? 1, view);
                _replicas[key] = next;

                RoleChanged?.Invoke(new ReplicaRoleChange(topic.Name, partition.Partition, next.Role, state.LeaderEpoch, state.Leader));
            }
        }

        var gone = _replicas.Where(r => !wanted.Contains(r.Key)).ToList();
        foreach (var r in gone)
        {
            _replicas.TryRemove(r.Key, out _);
        }

        foreach (var (key, replica) in gone)
        {
            await replica.StopAsync().ConfigureAwait(false);
            RoleChanged?.Invoke(new ReplicaRoleChange(key.Item1, key.Item2, ReplicaRole.None, replica.Epoch, null));
        }
    }

    private Replica Start(string topic, int partition, Nsqd.Storage.PartitionLog log, PartitionState state, int minIsr, ClusterView view)
    {
        if (state.Leader == _selfId)
        {
            _logger.LogInformation("{Topic}/{Partition}: leading in epoch {Epoch} (isr {Isr})", topic, partition, state.LeaderEpoch, string.Join(",", state.Isr));
            var leader = new PartitionLeader(topic, log, _selfId, state.LeaderEpoch, state.Replicas, state.Isr, minIsr, _settings, _time);
            return new Replica(ReplicaRole.Leader, state.LeaderEpoch, state.Leader, leader, null, null);
        }

        if (state.Leader is null || !view.Nodes.TryGetValue(state.Leader, out var node))
        {
            return new Replica(ReplicaRole.None, state.LeaderEpoch, state.Leader, null, null, null);
        }

        _logger.LogInformation("{Topic}/{Partition}: following {Leader} in epoch {Epoch}", topic, partition, state.Leader, state.LeaderEpoch);
        var follower = new PartitionFollower(topic, log, _selfId, state.LeaderEpoch, node.BroadcastAddress, node.TcpPort, _settings, _logger, Cursors);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var replica = new Replica(ReplicaRole.Follower, state.LeaderEpoch, state.Leader, null, stop, null);
        replica.Run = Task.Run(async () =>
        {
            try
            {
                await follower.RunAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                // Never a silently dead follower (the chaos harness found one): end this one, and the next pass of the
                // apply loop (a state change or the ISR tick) starts a fresh follower.
                _logger.LogError(e, "{Topic}/{Partition}: following {Leader} in epoch {Epoch} failed; starting again", topic, partition,
                    state.Leader, state.LeaderEpoch);
            }
            finally
            {
                replica.Ended = !stop.IsCancellationRequested; // fenced, failed or not led there any more: the next state decides
            }
        });
        return replica;
    }

    /// <summary>As leader: write the ISR the leader wants (CAS on the partition revision, only in our epoch).</summary>
    private async Task MaintainIsrAsync(ClusterView view, CancellationToken ct)
    {
        var leaders = _replicas.Where(r => r.Value.Leader is not null).Select(r => (r.Key.Topic, r.Key.Partition, Leader: r.Value.Leader!)).ToList();
        var live = view.Nodes.Keys.ToHashSet(StringComparer.Ordinal);

        foreach (var (topic, partition, leader) in leaders)
        {
            if (leader.ProposeIsr(live) is not { } isr
                || !view.Topics.TryGetValue(topic, out var t) || !t.Partitions.TryGetValue(partition, out var current)
                || current.State.Leader != _selfId || current.State.LeaderEpoch != leader.Epoch)
            {
                continue;
            }

            var written = await _writer.UpdatePartitionAsync(topic, partition, current.ModRevision, current.State with { Isr = isr }, fence: null, ct).ConfigureAwait(false);
            if (written is not null)
            {
                _logger.LogInformation("{Topic}/{Partition}: isr {Old} -> {New}", topic, partition, string.Join(",", current.State.Isr), string.Join(",", isr));
                leader.IsrCommitted(isr);
            }
        }
    }

    private sealed class Replica(ReplicaRole role, long epoch, string? leaderId, PartitionLeader? leader, CancellationTokenSource? stop, Task? run)
    {
        public ReplicaRole Role { get; } = role;

        public long Epoch { get; } = epoch;

        public string? LeaderId { get; } = leaderId;

        public PartitionLeader? Leader { get; } = leader;

        public Task? Run { get; set; } = run;

        /// <summary>The follower run ended on the leader's answer (fenced, not led there): restart at the next state.</summary>
        public bool Ended { get => Volatile.Read(ref _ended); set => Volatile.Write(ref _ended, value); }

        private bool _ended;

        public async Task StopAsync()
        {
            if (stop is not null)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                if (Run is not null)
                {
                    await Run.ConfigureAwait(false);
                }

                stop.Dispose();
            }

            Leader?.Dispose();
        }
    }
}
