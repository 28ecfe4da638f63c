using System.Buffers;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Cluster;

namespace NsqSharp.Cluster.Replication.Agent;

/// <summary>
/// One V2 connection from this node to a leader, for forwarded publishes: IDENTIFY as a forwarder (so the leader
/// never forwards them again), then pipelined PUB/MPUB/DPUB answered in order, heartbeats answered with NOP. A
/// connection that fails fails everything in flight on it with <see cref="IOException"/>; the forwarder retries on a
/// new one (at-least-once, as a client's own retry).
/// </summary>
internal sealed class LeaderConnection : IAsyncDisposable
{
    /// <summary>Forwarded publishes waiting for their answers on one connection; beyond it a forward waits.</summary>
    private const int MaxInFlight = 1024;
    private static readonly byte[] Heartbeat = "_heartbeat_"u8.ToArray();

    private readonly Socket _socket;
    private NetworkStream _stream = null!;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _slots = new(MaxInFlight, MaxInFlight);
    private readonly Queue<TaskCompletionSource> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly int _maxFrame;
    private Task? _readLoop;

    private LeaderConnection(Socket socket, int maxFrame)
    {
        _socket = socket;
        _maxFrame = maxFrame;
    }

    public bool IsClosed => _closed.IsCancellationRequested;

    public static async Task<LeaderConnection> ConnectAsync(string host, int port, string selfId, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connection = new LeaderConnection(socket, 1024 * 1024);
        try
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(timeout);
            await socket.ConnectAsync(host, port, bound.Token).ConfigureAwait(false);
            connection._stream = new NetworkStream(socket, ownsSocket: true);
            var identify = Encoding.UTF8.GetBytes(
                $"{{\"client_id\":\"{selfId}\",\"hostname\":\"{selfId}\",\"feature_negotiation\":false,\"user_agent\":\"{ClusterProtocol.ForwarderUserAgentPrefix}{ProtocolConstants.ProductVersion}\"}}");
            var setup = new ArrayBufferWriter<byte>(256);
            CommandWriter.WriteMagic(setup);
            CommandWriter.WriteIdentify(setup, identify);
            await connection._stream.WriteAsync(setup.WrittenMemory, bound.Token).ConfigureAwait(false);
            var (type, data) = await FrameReader.ReadAsync(connection._stream, connection._maxFrame, bound.Token).ConfigureAwait(false);
            if (type != FrameType.Response || !data.AsSpan().SequenceEqual(ProtocolConstants.Ok))
            {
                throw new IOException($"leader {host}:{port} refused IDENTIFY: {Encoding.UTF8.GetString(data)}");
            }
        }
        catch (Exception e) when (e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"connecting to leader {host}:{port} timed out after {timeout.TotalSeconds:0.#} s");
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        connection._readLoop = Task.Run(connection.ReadLoopAsync);
        return connection;
    }

    /// <summary>Sends the publish and completes with the leader's answer (OK, or <see cref="ClusterRequestException"/>
    /// with its error code); <see cref="IOException"/> when the connection failed first.</summary>
    public async Task PublishAsync(ForwardedPublish publish, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var command = new ArrayBufferWriter<byte>(64 + publish.Bodies.Sum(b => b.Length + 4));
            if (publish.Multiple)
            {
                CommandWriter.WriteMpub(command, publish.Topic, publish.Bodies);
            }
            else if (publish.DeferMs > 0)
            {
                CommandWriter.WriteDpub(command, publish.Topic, publish.DeferMs, publish.Bodies[0].Span);
            }
            else
            {
                CommandWriter.WritePub(command, publish.Topic, publish.Bodies[0].Span);
            }

            var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await _writeLock.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                ObjectDisposedException.ThrowIf(IsClosed, this);
                lock (_pending)
                {
                    _pending.Enqueue(answer); // in write order: the leader answers in command order
                }

                await _stream.WriteAsync(command.WrittenMemory, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                await CloseAsync(new IOException("connection to the leader lost: " + e.Message, e)).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            await answer.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception failure = new IOException("connection to the leader closed");
        try
        {
            while (!IsClosed)
            {
                var (type, data) = await FrameReader.ReadAsync(_stream, _maxFrame, _closed.Token).ConfigureAwait(false);
                if (type == FrameType.Response && data.AsSpan().SequenceEqual(Heartbeat))
                {
                    await SendNopAsync().ConfigureAwait(false);
                    continue;
                }

                TaskCompletionSource? answer;
                lock (_pending)
                {
                    _pending.TryDequeue(out answer);
                }

                if (answer is null)
                {
                    throw new IOException("the leader answered a publish that was not sent");
                }

                if (type == FrameType.Response)
                {
                    answer.TrySetResult();
                }
                else
                {
                    var text = Encoding.UTF8.GetString(data);
                    var space = text.IndexOf(' ', StringComparison.Ordinal);
                    var code = space > 0 ? text[..space] : text;
                    var message = space > 0 ? text[(space + 1)..] : "";
                    answer.TrySetException(new ClusterRequestException(code, StripCommand(message)));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            failure = e as IOException ?? new IOException("connection to the leader lost: " + e.Message, e);
        }

        await CloseAsync(failure).ConfigureAwait(false);
    }

    /// <summary>"PUB failed x" -> "x": the forwarding node puts its own command word back in front.</summary>
    private static string StripCommand(string message)
    {
        foreach (var prefix in (ReadOnlySpan<string>)["PUB failed ", "MPUB failed ", "DPUB failed "])
        {
            if (message.StartsWith(prefix, StringComparison.Ordinal))
            {
                return message[prefix.Length..];
            }
        }

        return message;
    }

    private async Task SendNopAsync()
    {
        await _writeLock.WaitAsync(_closed.Token).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(CommandWriter.Nop.ToArray(), _closed.Token).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task CloseAsync(Exception failure)
    {
        if (!_closed.IsCancellationRequested)
        {
            await _closed.CancelAsync().ConfigureAwait(false);
        }

        _socket.Dispose();
        List<TaskCompletionSource> failed;
        lock (_pending)
        {
            failed = [.. _pending];
            _pending.Clear();
        }

        foreach (var answer in failed)
        {
            answer.TrySetException(failure);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(new IOException("connection to the leader closed")).ConfigureAwait(false);
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(false);
        }

        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}
