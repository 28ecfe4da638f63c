using System.Buffers;
using System.Net.Sockets;
using NsqSharp.Bench.Wire;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Load;

/// <summary>
/// bench_reader's subWorker: SUB, RDY n, FIN every message. FINs for everything parsed out of one
/// receive go out in a single send (natural batching, no timer), answers to heartbeats ride along.
/// </summary>
internal sealed class SubscribeWorker(NsqConnection connection, string topic, string channel, int ready,
    WorkerCounters counters, int slot, RunControl control, IMessageSink? sink)
{
    private readonly ArrayBufferWriter<byte> _out = new(connection.Reader.Capacity);
    private long _lastMessageTimestamp;

    public long LastMessageTimestamp => Volatile.Read(ref _lastMessageTimestamp);

    public long ErrorFrames { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>Subscribes; call before <see cref="RunControl.Start"/> so no message is missed.</summary>
    public async Task SubscribeAsync(CancellationToken ct)
    {
        await connection.CommandAsync(CommandBytes.Subscribe(topic, channel), ct).ConfigureAwait(false);
    }

    public async Task RunAsync()
    {
        await control.Started.ConfigureAwait(false);
        await connection.SendAsync(CommandBytes.Ready(Math.Min(ready, connection.MaxRdyCount))).ConfigureAwait(false);
        var reader = connection.Reader;
        try
        {
            while (!control.StopRequested)
            {
                if (!await reader.FillAsync(connection.Socket, control.Abort.Token).ConfigureAwait(false))
                {
                    if (control.StopRequested)
                    {
                        return;
                    }

                    throw new BrokerErrorException($"connection closed by the broker while consuming{(LastError is null ? "" : ": " + LastError)}");
                }

                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                Drain(reader, now, out var messages);
                if (messages > 0)
                {
                    counters.Add(slot, messages);
                    Volatile.Write(ref _lastMessageTimestamp, now);
                }

                if (_out.WrittenCount > 0)
                {
                    await connection.SendAsync(_out.WrittenMemory).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (control.StopRequested && e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopping: the receive was cut short on purpose
        }
    }

    /// <summary>Parses every complete frame; leaves the FIN/NOP commands to send in _out.</summary>
    private void Drain(FrameBuffer reader, long now, out int messages)
    {
        messages = 0;
        _out.ResetWrittenCount();
        while (reader.TryRead(out var type, out var offset, out var size))
        {
            var data = reader.Data(offset, size);
            switch (type)
            {
                case FrameType.Message when size >= MessageFrame.HeaderLength:
                    CommandWriter.WriteFin(_out, MessageFrame.Id(data));
                    sink?.OnMessage(MessageFrame.Body(data), now);
                    messages++;
                    break;
                case FrameType.Response when data.SequenceEqual(ProtocolConstants.Heartbeat):
                    CommandWriter.WriteNop(_out);
                    break;
                case FrameType.Error:
                    // E_FIN_FAILED & co are not fatal; a fatal one is followed by the close.
                    ErrorFrames++;
                    LastError = System.Text.Encoding.UTF8.GetString(data);
                    break;
            }
        }
    }
}
