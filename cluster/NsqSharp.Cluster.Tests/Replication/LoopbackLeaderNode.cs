using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.Replication.Protocol;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>Serves the replica fetch protocol for the leaders it is given (a node without a replica manager).</summary>
internal sealed class LoopbackLeaderNode : IReplicaLookup, IAsyncDisposable
{
    private readonly Dictionary<(string, int), PartitionLeader> _leaders = [];
    private readonly FetchListener _listener;

    public LoopbackLeaderNode(IChannelCursors? cursors = null, int maxCursorBytes = ReplicationCodec.MaxCursorBytes) =>
        _listener = new FetchListener(this, cursors, maxCursorBytes);

    public int Port => _listener.Port;

    public void Lead(PartitionLeader leader)
    {
        lock (_leaders)
        {
            _leaders[(leader.Topic, leader.Partition)] = leader;
        }
    }

    public void StopLeading(string topic, int partition)
    {
        lock (_leaders)
        {
            _leaders.Remove((topic, partition));
        }
    }

    public PartitionLeader? FindLeader(string topic, int partition)
    {
        lock (_leaders)
        {
            return _leaders.GetValueOrDefault((topic, partition));
        }
    }

    public bool HoldsPartition(string topic, int partition) => topic == "t";

    /// <summary>Drops every open replication connection (a network blip).</summary>
    public void DropConnections() => _listener.DropConnections();

    public ValueTask DisposeAsync() => _listener.DisposeAsync();
}
