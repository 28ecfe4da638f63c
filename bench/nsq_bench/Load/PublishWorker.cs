using System.Diagnostics;
using NsqSharp.Bench.Wire;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Load;

/// <summary>
/// Closed-loop publisher, bench_writer's pubWorker: send one prebuilt MPUB (or PUB) command, wait for
/// its OK, count the batch, repeat. <c>pipeline</c> &gt; 1 keeps that many commands outstanding
/// (upstream uses 1). The command bytes are built once, so the loop allocates nothing.
/// </summary>
internal sealed class PublishWorker(NsqConnection connection, byte[] command, int messagesPerCommand, int pipeline,
    WorkerCounters counters, int slot, RunControl control)
{
    private static readonly byte[] Nop = CommandWriter.Nop.ToArray();

    public long FinishTimestamp { get; private set; }

    public async Task RunAsync()
    {
        await control.Started.ConfigureAwait(false);
        var outstanding = 0;
        while (!control.StopRequested)
        {
            while (outstanding < pipeline && !control.StopRequested)
            {
                await connection.SendAsync(command).ConfigureAwait(false);
                outstanding++;
            }

            await AwaitOkAsync().ConfigureAwait(false);
            outstanding--;
            counters.Add(slot, messagesPerCommand);
        }

        // Like upstream, the batches already sent still count: wait for their OKs.
        while (outstanding-- > 0)
        {
            await AwaitOkAsync().ConfigureAwait(false);
            counters.Add(slot, messagesPerCommand);
        }

        FinishTimestamp = Stopwatch.GetTimestamp();
    }

    private async ValueTask AwaitOkAsync()
    {
        var reader = connection.Reader;
        while (true)
        {
            switch (NextResponse(reader))
            {
                case ResponseKind.Ok:
                    return;
                case ResponseKind.Heartbeat:
                    await connection.SendAsync(Nop).ConfigureAwait(false);
                    continue;
                case ResponseKind.None:
                    if (!await reader.FillAsync(connection.Socket).ConfigureAwait(false))
                    {
                        throw new BrokerErrorException("connection closed by the broker while publishing");
                    }

                    continue;
            }
        }
    }

    private enum ResponseKind
    {
        None,
        Ok,
        Heartbeat,
    }

    private static ResponseKind NextResponse(FrameBuffer reader)
    {
        if (!reader.TryRead(out var type, out var offset, out var length))
        {
            return ResponseKind.None;
        }

        var data = reader.Data(offset, length);
        if (type == FrameType.Error)
        {
            throw new BrokerErrorException(System.Text.Encoding.UTF8.GetString(data));
        }

        if (data.SequenceEqual(ProtocolConstants.Ok))
        {
            return ResponseKind.Ok;
        }

        if (data.SequenceEqual(ProtocolConstants.Heartbeat))
        {
            return ResponseKind.Heartbeat;
        }

        throw new BrokerErrorException($"unexpected response to a publish: \"{System.Text.Encoding.UTF8.GetString(data)}\"");
    }
}
