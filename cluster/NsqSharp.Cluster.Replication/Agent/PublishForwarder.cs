using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.State;
using NsqSharp.Nsqd.Cluster;

namespace NsqSharp.Cluster.Replication.Agent;

/// <summary>
/// Forwards publishes for topics this node does not lead to their leaders (plain NSQ clients publish to any node):
/// one pipelined <see cref="LeaderConnection"/> per leader node, opened on first use. A forward is answered with the
/// leader's answer. It is retried, within <see cref="Bound"/>, only where the leader cannot have taken it or a retry
/// is the client's own retry anyway: no leader known yet, the leader moved (E_NOT_LEADER), the connection failed. At
/// the bound the publisher gets E_CLUSTER_UNAVAILABLE (or the leader's last answer), never a silent ack.
/// </summary>
internal sealed class PublishForwarder(ClusterWatcher watcher, string selfId, TimeSpan bound, ILogger logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<LeaderConnection>>> _connections = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private int _next;

    public TimeSpan Bound { get; } = bound;

    private readonly NsqSharp.Common.Net.LogRateLimiter _failures = new(TimeSpan.FromSeconds(5));

    /// <returns>True once a leader acknowledged; false when this node leads the topic now (publish locally).</returns>
    public async Task<bool> ForwardAsync(ForwardedPublish publish, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        deadline.CancelAfter(Bound);
        Exception? last = null;
        var view = watcher.Current;
        while (true)
        {
            try
            {
                var leader = PickLeader(view, publish.Topic);
                if (leader is null && LeadsHere(view, publish.Topic))
                {
                    return false; // we were promoted meanwhile: the caller's local publish is the leader's answer
                }

                if (leader is null)
                {
                    last ??= new ClusterRequestException(ClusterProtocol.ClusterUnavailable, $"no live leader for topic {publish.Topic}");
                }
                else
                {
                    LeaderConnection? connection = null;
                    try
                    {
                        connection = await ConnectionToAsync(leader, deadline.Token).ConfigureAwait(false);
                        await connection.PublishAsync(publish, deadline.Token).ConfigureAwait(false);
                        return true;
                    }
                    catch (ClusterRequestException e) when (e.Code == ClusterProtocol.NotLeader)
                    {
                        last = e; // our view is behind the leader's: wait for the next one
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
                    {
                        if (connection is not null)
                        {
                            Drop(leader.NodeId, connection);
                        }

                        last = e;
                        if (_failures.ShouldLog(out var suppressed))
                        {
                            logger.LogWarning("forwarding to {Leader} for topic {Topic} failed: {Error}; retrying ({Suppressed} more failed forwards since the last report)",
                                leader.NodeId, publish.Topic, e.Message, suppressed);
                        }
                    }
                }

                view = await NextViewAsync(view, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw last is ClusterRequestException c ? c
                    : new ClusterRequestException(ClusterProtocol.ClusterUnavailable,
                        $"no leader of topic {publish.Topic} took the publish within {Bound.TotalSeconds:0.#} s{(last is null ? "" : ": " + last.Message)}");
            }
        }
    }

    /// <summary>The next view, or the same one after a short pause when nothing changes (a dead connection to a
    /// leader that is still listed: retry it).</summary>
    private async Task<ClusterView> NextViewAsync(ClusterView seen, CancellationToken ct)
    {
        using var pause = CancellationTokenSource.CreateLinkedTokenSource(ct);
        pause.CancelAfter(TimeSpan.FromMilliseconds(200));
        try
        {
            return await watcher.ChangedSinceAsync(seen, pause.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return watcher.Current;
        }
    }

    /// <summary>A live leader of some partition of the topic, other than this node (round-robin over partitions).</summary>
    private NodeRegistration? PickLeader(ClusterView view, string topic)
    {
        if (!view.Topics.TryGetValue(topic, out var t))
        {
            return null;
        }

        var leaders = t.Partitions.Values
            .Select(p => p.State.Leader)
            .Where(l => l is not null && l != selfId && view.Nodes.ContainsKey(l))
            .Select(l => view.Nodes[l!])
            .ToList();
        return leaders.Count == 0 ? null : leaders[(int)((uint)Interlocked.Increment(ref _next) % (uint)leaders.Count)];
    }

    /// <summary>The state names this node leader of some partition of the topic.</summary>
    private bool LeadsHere(ClusterView view, string topic) =>
        view.Topics.TryGetValue(topic, out var t) && t.Partitions.Values.Any(p => p.State.Leader == selfId);

    private async Task<LeaderConnection> ConnectionToAsync(NodeRegistration node, CancellationToken ct)
    {
        while (true)
        {
            var lazy = _connections.GetOrAdd(node.NodeId, _ => new Lazy<Task<LeaderConnection>>(
                () => LeaderConnection.ConnectAsync(node.BroadcastAddress, node.TcpPort, selfId, TimeSpan.FromSeconds(3), _stop.Token)));
            LeaderConnection connection;
            try
            {
                connection = await lazy.Value.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                _connections.TryRemove(new KeyValuePair<string, Lazy<Task<LeaderConnection>>>(node.NodeId, lazy));
                throw new IOException($"cannot connect to leader {node.NodeId} at {node.BroadcastAddress}:{node.TcpPort}: {e.Message}", e);
            }

            if (!connection.IsClosed)
            {
                return connection;
            }

            Drop(node.NodeId, connection);
        }
    }

    private void Drop(string nodeId, LeaderConnection connection)
    {
        if (_connections.TryGetValue(nodeId, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && ReferenceEquals(lazy.Value.Result, connection))
        {
            _connections.TryRemove(new KeyValuePair<string, Lazy<Task<LeaderConnection>>>(nodeId, lazy));
            _ = connection.DisposeAsync().AsTask();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var lazy in _connections.Values)
        {
            if (lazy.IsValueCreated)
            {
                try
                {
                    await (await lazy.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
                {
                }
            }
        }

        _connections.Clear();
    }
}
