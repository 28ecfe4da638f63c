using NsqSharp.Common.Compression;
using Xunit;

namespace NsqSharp.Common.Tests.Compression;

/// <summary>Snappy framing over real loopback TCP, where data arrives in arbitrary pieces.</summary>
public class SnappyFrameStreamSocketTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task LargeTransferArrivesIntactInPartialReads()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        byte[] data = [.. TestPayloads.Compressible(1_500_000, 1), .. TestPayloads.Random(700_000, 1)];
        await using var writer = new SnappyFrameStream(tcp.Client, leaveOpen: true);
        await using var reader = new SnappyFrameStream(tcp.Server, leaveOpen: true);

        Task send = Task.Run(async () =>
        {
            var random = new Random(1);
            int written = 0;
            while (written < data.Length)
            {
                int n = Math.Min(data.Length - written, random.Next(1, 20_000));
                await writer.WriteAsync(data.AsMemory(written, n));
                written += n;
                if (random.Next(8) == 0)
                {
                    await writer.FlushAsync();
                }
            }

            await writer.FlushAsync();
        });

        byte[] received = await TestPayloads.ReadExactlyAsync(reader, data.Length, 4096).WaitAsync(Timeout);
        await send.WaitAsync(Timeout);
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task ReadReturnsAfterOneFlushedChunkWithoutWaitingForMore()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        await using var writer = new SnappyFrameStream(tcp.Client, leaveOpen: true);
        await using var reader = new SnappyFrameStream(tcp.Server, leaveOpen: true);

        await writer.WriteAsync("OK"u8.ToArray());
        await writer.FlushAsync();
        byte[] buffer = new byte[1024];
        // The connection stays open and idle: the read must complete on this chunk alone.
        int n = await reader.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
        Assert.Equal("OK"u8.ToArray(), buffer.AsSpan(0, n).ToArray());

        writer.Write("sync"u8);
        writer.Flush();
        n = await Task.Run(() => reader.Read(buffer)).WaitAsync(Timeout);
        Assert.Equal("sync"u8.ToArray(), buffer.AsSpan(0, n).ToArray());
    }

    [Fact]
    public async Task PingPongOfSmallFlushedWritesDoesNotDeadlock()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        await using var client = new SnappyFrameStream(tcp.Client, leaveOpen: true);
        await using var server = new SnappyFrameStream(tcp.Server, leaveOpen: true);
        await PingPong.RunAsync(client, server, rounds: 300).WaitAsync(Timeout);
    }

    [Fact]
    public async Task SocketClosedMidChunkIsReportedAsCorrupt()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        byte[] framed = SnappyFrameStreamFormatTests.Frame(TestPayloads.Random(5000, 3));
        await tcp.Client.WriteAsync(framed.AsMemory(0, framed.Length - 10));
        tcp.Client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        await using var reader = new SnappyFrameStream(tcp.Server, leaveOpen: true);
        await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadAsync(new byte[10_000]).AsTask().WaitAsync(Timeout));
    }
}
