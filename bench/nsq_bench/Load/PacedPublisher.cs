using System.Diagnostics;
using System.Net.Sockets;
using NsqSharp.Bench.Measure;
using NsqSharp.Bench.Wire;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Load;

/// <summary>
/// Open-loop publisher for latency mode. A dedicated thread sends every batch when it falls due
/// (batches index, index + stride, ... of the shared <see cref="LatencySchedule"/>) without waiting
/// for earlier OKs; an async loop matches the in-order OKs back to their batches and records
/// ack latency from the due time. Each body is stamped so consumers can measure end-to-end latency.
/// </summary>
internal sealed class PacedPublisher
{
    private const int SendBufferSize = 256 * 1024;

    private readonly NsqConnection _connection;
    private readonly LatencySchedule _schedule;
    private readonly int _index;
    private readonly int _stride;
    private readonly int _batchSize;
    private readonly long _runId;
    private readonly bool _spin;
    private readonly RunControl _control;
    private readonly WorkerCounters _acked;
    private readonly byte[] _template;
    private readonly int[] _bodyOffsets;
    private readonly byte[] _sendBuffer;
    private long _sentBatches;
    private long _ackedBatches;
    private volatile bool _senderDone;
    private volatile bool _nopPending;

    public PacedPublisher(NsqConnection connection, string topic, int size, int batchSize, LatencySchedule schedule,
        int index, int stride, long runId, bool spin, RunControl control, WorkerCounters acked)
    {
        _connection = connection;
        _schedule = schedule;
        _index = index;
        _stride = stride;
        _batchSize = batchSize;
        _runId = runId;
        _spin = spin;
        _control = control;
        _acked = acked;
        var body = new byte[size];
        Array.Fill(body, (byte)'a');
        _template = CommandBytes.Publish(topic, batchSize, body, out _bodyOffsets);

        _sendBuffer = new byte[Math.Max(SendBufferSize, _template.Length + 4)];
    }

    /// <summary>Time from due to actually handed to the socket: the tool's own share of every latency.</summary>
    public LogLinearHistogram SendLag { get; } = new();

    public LogLinearHistogram Ack { get; } = new();

    public long SentMessages => Volatile.Read(ref _sentBatches) * _batchSize;

    public long AckedMessages => Volatile.Read(ref _ackedBatches) * _batchSize;

    public bool SenderDone => _senderDone;

    public Exception? SendError { get; private set; }

    /// <summary>Body of the sending thread.</summary>
    public void SendLoop()
    {
        try
        {
            _control.Started.Wait();
            SendDueBatches();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            if (!_control.StopRequested)
            {
                SendError = e;
            }
        }
        finally
        {
            _senderDone = true;
        }
    }

    private void SendDueBatches()
    {
        long batch = _index;
        long sent = 0;
        var socket = _connection.Socket;
        while (!_control.StopRequested)
        {
            var due = _schedule.Due(batch);
            if (due >= _schedule.End)
            {
                return;
            }

            var now = Stopwatch.GetTimestamp();
            if (due > now)
            {
                WaitUntil(due, now);
                continue;
            }

            // Everything already due goes out in one write: a late sender catches up at once.
            var length = 0;
            while (due <= now && due < _schedule.End && length + _template.Length + 4 <= _sendBuffer.Length)
            {
                var command = _sendBuffer.AsSpan(length, _template.Length);
                _template.CopyTo(command);
                foreach (var offset in _bodyOffsets)
                {
                    LatencySink.Stamp(command[offset..], _runId, batch, due);
                }

                SendLag.Record(LatencySchedule.ToNanoseconds(now - due));
                length += _template.Length;
                sent++;
                batch += _stride;
                due = _schedule.Due(batch);
            }

            if (_nopPending)
            {
                _nopPending = false;
                CommandWriter.Nop.CopyTo(_sendBuffer.AsSpan(length));
                length += CommandWriter.Nop.Length;
            }

            var span = _sendBuffer.AsSpan(0, length);
            while (!span.IsEmpty)
            {
                span = span[socket.Send(span, SocketFlags.None)..];
            }

            Volatile.Write(ref _sentBatches, sent);
        }
    }

    private void WaitUntil(long due, long now)
    {
        var remainingMs = (due - now) * 1000.0 / Stopwatch.Frequency;
        if (remainingMs >= 2 || !_spin)
        {
            // Sleep granularity is ~1 ms; the overshoot is recorded as send lag.
            Thread.Sleep(remainingMs >= 2 ? (int)remainingMs - 1 : 1);
        }
        else
        {
            Thread.SpinWait(20);
        }
    }

    /// <summary>Matches OKs (in order) to batches until aborted; answers heartbeats through the sender.</summary>
    public async Task AckLoopAsync()
    {
        await _control.Started.ConfigureAwait(false);
        var reader = _connection.Reader;
        long acked = 0;
        try
        {
            while (true)
            {
                while (reader.TryRead(out var type, out var offset, out var length))
                {
                    var data = reader.Data(offset, length);
                    if (type == FrameType.Error)
                    {
                        throw new BrokerErrorException(System.Text.Encoding.UTF8.GetString(data));
                    }

                    if (type != FrameType.Response)
                    {
                        continue;
                    }

                    if (data.SequenceEqual(ProtocolConstants.Heartbeat))
                    {
                        _nopPending = true;
                        continue;
                    }

                    var now = Stopwatch.GetTimestamp();
                    var due = _schedule.Due(_index + (acked * _stride));
                    if (due >= _schedule.WarmupEnd)
                    {
                        var latency = LatencySchedule.ToNanoseconds(now - due);
                        for (var i = 0; i < _batchSize; i++)
                        {
                            Ack.Record(latency);
                        }
                    }

                    acked++;
                    Volatile.Write(ref _ackedBatches, acked);
                    _acked.Add(_index, _batchSize);
                }

                if (!await reader.FillAsync(_connection.Socket, _control.Abort.Token).ConfigureAwait(false))
                {
                    throw new BrokerErrorException("connection closed by the broker while publishing");
                }
            }
        }
        catch (Exception e) when (_control.Abort.IsCancellationRequested && e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // drained or timed out: the runner counts what is still unacked
        }
    }
}
