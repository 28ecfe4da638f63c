using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.Replication.Protocol;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>
/// A TCP listener on 127.0.0.1 that serves the replica fetch protocol ("  R1" connections) for a node's partitions,
/// as nsqd's TCP port will in cluster mode. <see cref="DropConnections"/> cuts every open connection (a blip).
/// </summary>
internal sealed class FetchListener : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly Task _accepting;

    public FetchListener(IReplicaLookup replicas, IChannelCursors? cursors = null, int maxCursorBytes = ReplicationCodec.MaxCursorBytes)
    {
        _listener.Start();
        _accepting = AcceptAsync(new FetchServer(replicas, NullLogger.Instance, cursors) { MaxCursorBytes = maxCursorBytes });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

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

    private async Task AcceptAsync(FetchServer server)
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            lock (_clients)
            {
                _clients.Add(client);
            }

            _ = Task.Run(async () =>
            {
                try
                {
                    var stream = client.GetStream();
                    var magic = new byte[4];
                    await stream.ReadExactlyAsync(magic, _stop.Token);
                    if (magic.AsSpan().SequenceEqual(ReplicationCodec.Magic))
                    {
                        await server.ServeAsync(stream, _stop.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
                {
                }
                finally
                {
                    client.Dispose();
                }
            });
        }
    }
}
