using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.Replication.Protocol;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>A TCP listener on 127.0.0.1 that serves the replica fetch protocol for the leaders it is given.</summary>
internal sealed class LoopbackLeaderNode : IReplicaLookup, IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<TcpClient> _clients = [];
    private readonly Dictionary<(string, int), PartitionLeader> _leaders = [];

    public LoopbackLeaderNode()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

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
    public void DropConnections()
    {
        lock (_clients)
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }

            _clients.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        DropConnections();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        var server = new FetchServer(this, NullLogger.Instance);
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            lock (_clients)
            {
                _clients.Add(client);
            }

            _ = Task.Run(async () =>
            {
                var stream = client.GetStream();
                var magic = new byte[4];
                await stream.ReadExactlyAsync(magic, _stop.Token);
                if (magic.AsSpan().SequenceEqual(ReplicationCodec.Magic))
                {
                    await server.ServeAsync(stream, _stop.Token);
                }

                client.Dispose();
            });
        }
    }
}
