using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Wire;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Load;

/// <summary>
/// The kill being measured: armed with the kill's timestamp, it keeps the first acknowledgement of a publish sent at
/// or after it (the failover time is that minus the kill). Also counts error answers by code.
/// </summary>
internal sealed class FailoverProbe
{
    private readonly Lock _errorsLock = new();
    private readonly SortedDictionary<string, long> _errors = new(StringComparer.Ordinal);
    private long _killTimestamp;
    private long _firstAck;

    public long FirstAck => Volatile.Read(ref _firstAck);

    public void Arm(long killTimestamp)
    {
        Volatile.Write(ref _firstAck, 0);
        Volatile.Write(ref _killTimestamp, killTimestamp);
    }

    public void Disarm() => Volatile.Write(ref _killTimestamp, 0);

    public void OnAck(long sentTimestamp, long ackTimestamp)
    {
        var kill = Volatile.Read(ref _killTimestamp);
        if (kill != 0 && sentTimestamp >= kill)
        {
            Interlocked.CompareExchange(ref _firstAck, ackTimestamp, 0);
        }
    }

    public void OnError(string code)
    {
        lock (_errorsLock)
        {
            _errors[code] = _errors.GetValueOrDefault(code) + 1;
        }
    }

    public SortedDictionary<string, long> Errors()
    {
        lock (_errorsLock)
        {
            return new SortedDictionary<string, long>(_errors, StringComparer.Ordinal);
        }
    }
}

/// <summary>
/// One publishing connection of the failover mode, to one node (leader or follower: a follower forwards to the
/// leader). The pacer calls <see cref="TrySend"/> from its thread; the connection's own loop reads the answers (in
/// order, so each matches the oldest unanswered send) and reconnects every 100 ms while the node is down.
/// </summary>
internal sealed class FailoverPublisher(RouteNode node, IPEndPoint endpoint, byte[] command, FailoverProbe probe, RunControl control)
{
    private static readonly byte[] Nop = CommandWriter.Nop.ToArray();
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(100);

    private readonly Lock _lock = new();
    private readonly Queue<long> _pending = new();
    private NsqConnection? _connection;
    private long _acked;
    private long _errors;
    private long _unanswered;
    private long _lastOk;

    public RouteNode Node => node;

    public long Acked => Volatile.Read(ref _acked);

    public long Errors => Volatile.Read(ref _errors);

    public long Unanswered => Volatile.Read(ref _unanswered);

    /// <summary>Publishes sent and not answered yet.</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>When the last OK arrived (0: never).</summary>
    public long LastOkTimestamp => Volatile.Read(ref _lastOk);

    public async Task RunAsync()
    {
        await control.Started.ConfigureAwait(false);
        while (!control.StopRequested)
        {
            NsqConnection connection;
            try
            {
                connection = await NsqConnection.OpenAsync(endpoint, new IdentifySettings("bench_failover"), 64 * 1024, control.Abort.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is BrokerErrorException or OperationCanceledException or SocketException or IOException)
            {
                await PauseAsync().ConfigureAwait(false);
                continue;
            }

            // A send blocks only when the node stopped reading (its socket buffer is full); the pacer must not wait for it
            // long, or the other connections would publish late and a failover would look slower than it is.
            connection.Socket.SendTimeout = 200;
            lock (_lock)
            {
                _connection = connection;
            }

            try
            {
                await ReceiveAsync(connection).ConfigureAwait(false);
            }
            catch (Exception e) when (e is BrokerErrorException or OperationCanceledException or SocketException or ObjectDisposedException or IOException)
            {
                // the node went away (or the run ended): reconnect
            }
            finally
            {
                lock (_lock)
                {
                    _connection = null;
                    Volatile.Write(ref _unanswered, _unanswered + _pending.Count);
                    _pending.Clear();
                }

                connection.Dispose();
            }

            await PauseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends one PUB if connected (false: down, try another connection).</summary>
    public bool TrySend()
    {
        lock (_lock)
        {
            var connection = _connection;
            if (connection is null)
            {
                return false;
            }

            var sent = Stopwatch.GetTimestamp();
            try
            {
                SendAll(connection.Socket, command);
                _pending.Enqueue(sent); // under the lock: the answer cannot be read before it is queued
                return true;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _connection = null;
                Shutdown(connection); // ends the receive loop, which reconnects
                return false;
            }
        }
    }

    private async Task ReceiveAsync(NsqConnection connection)
    {
        var reader = connection.Reader;
        while (true)
        {
            while (reader.TryRead(out var type, out var offset, out var length))
            {
                var data = reader.Data(offset, length);
                var now = Stopwatch.GetTimestamp();
                if (type == FrameType.Response && data.SequenceEqual(ProtocolConstants.Heartbeat))
                {
                    lock (_lock)
                    {
                        SendAll(connection.Socket, Nop);
                    }

                    continue;
                }

                if (type is not (FrameType.Response or FrameType.Error))
                {
                    continue;
                }

                long sent;
                lock (_lock)
                {
                    if (!_pending.TryDequeue(out sent))
                    {
                        continue; // nothing of ours outstanding (cannot happen on a publish-only connection)
                    }
                }

                if (type == FrameType.Response)
                {
                    Volatile.Write(ref _acked, _acked + 1);
                    Volatile.Write(ref _lastOk, now);
                    probe.OnAck(sent, now);
                }
                else
                {
                    Volatile.Write(ref _errors, _errors + 1);
                    var text = Encoding.UTF8.GetString(data);
                    var space = text.IndexOf(' ', StringComparison.Ordinal);
                    probe.OnError(space < 0 ? text : text[..space]);
                }
            }

            if (!await reader.FillAsync(connection.Socket, control.Abort.Token).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private async Task PauseAsync()
    {
        if (control.StopRequested)
        {
            return;
        }

        try
        {
            await Task.Delay(ReconnectDelay, control.Abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[socket.Send(data, SocketFlags.None)..];
        }
    }

    private static void Shutdown(NsqConnection connection)
    {
        try
        {
            connection.Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already gone
        }
    }

    /// <summary>
    /// The pacing thread: one PUB every 1/rate seconds, on the next connection (round-robin) that is up, so the rate
    /// holds while a node is down. After a stall it does not burst (more than a second behind: the schedule restarts).
    /// </summary>
    public static void Pace(IReadOnlyList<FailoverPublisher> publishers, double rate, RunControl control, Func<bool> sending)
    {
        control.Started.Wait();
        var period = Stopwatch.Frequency / rate;
        var next = (double)Stopwatch.GetTimestamp();
        var turn = 0;
        while (!control.StopRequested && sending())
        {
            var now = Stopwatch.GetTimestamp();
            if (now < next)
            {
                Thread.Sleep(Math.Max(1, (int)((next - now) * 1000 / Stopwatch.Frequency)));
                continue;
            }

            for (var i = 0; i < publishers.Count; i++)
            {
                turn = (turn + 1) % publishers.Count;
                if (publishers[turn].TrySend())
                {
                    break;
                }
            }

            next += period;
            if (now - next > Stopwatch.Frequency)
            {
                next = now;
            }
        }
    }
}
