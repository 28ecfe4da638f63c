using System.IO.Compression;
using NsqSharp.Common.Compression;
using Xunit;

namespace NsqSharp.Common.Tests.Compression;

public class DeflateStreamsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void ReaderDecodesRawDeflateWithoutZlibHeader()
    {
        // A single final stored block holding "hello", as Go's compress/flate would accept it.
        byte[] raw = [0x01, 0x05, 0x00, 0xfa, 0xff, .. "hello"u8];
        using Stream reader = DeflateStreams.CreateReader(new MemoryStream(raw));
        Assert.Equal("hello"u8.ToArray(), TestPayloads.ReadExactly(reader, 5, 100));
    }

    [Fact]
    public void FlushEmitsSyncFlushMarkerAndEverythingWrittenSoFar()
    {
        var pipe = new InMemoryPipeStream();
        using Stream writer = DeflateStreams.CreateWriter(pipe, 6, leaveOpen: true);
        using Stream reader = DeflateStreams.CreateReader(pipe, leaveOpen: true);
        writer.Write("first message"u8);
        writer.Flush();
        byte[] wire = pipe.ToArray();
        Assert.Equal([0x00, 0x00, 0xff, 0xff], wire[^4..]); // empty stored block = Z_SYNC_FLUSH
        Assert.NotEqual(0x78, wire[0]); // not a zlib header
        Assert.Equal("first message"u8.ToArray(), TestPayloads.ReadExactly(reader, 13, 100));
        writer.Write("second"u8);
        writer.Flush();
        Assert.Equal("second"u8.ToArray(), TestPayloads.ReadExactly(reader, 6, 100));
    }

    [Fact]
    public void LevelIsHonoured()
    {
        byte[] data = TestPayloads.Compressible(200_000, 1);
        byte[] fast = Compress(data, 1);
        byte[] best = Compress(data, 9);
        Assert.True(best.Length < fast.Length, $"level 9 {best.Length} bytes, level 1 {fast.Length} bytes");
        Assert.Equal(data, Decompress(fast));
        Assert.Equal(data, Decompress(best));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(-1)]
    public void RejectsLevelsOutsideOneToNine(int level)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DeflateStreams.CreateWriter(new MemoryStream(), level));
    }

    [Fact]
    public async Task PingPongAcrossTcpDoesNotDeadlock()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        await using Stream client = DeflateStreams.CreateDuplex(tcp.Client, 6, leaveOpen: true);
        await using Stream server = DeflateStreams.CreateDuplex(tcp.Server, 1, leaveOpen: true);
        await PingPong.RunAsync(client, server, rounds: 300).WaitAsync(Timeout);
    }

    [Fact]
    public async Task LargeTransferAcrossTcpWithSeparateReaderAndWriter()
    {
        using LoopbackTcp tcp = await LoopbackTcp.ConnectAsync();
        byte[] data = [.. TestPayloads.Compressible(1 << 20, 2), .. TestPayloads.Random(300_000, 2)];
        Task send = Task.Run(async () =>
        {
            await using Stream writer = DeflateStreams.CreateWriter(tcp.Client, 9, leaveOpen: true);
            for (int offset = 0; offset < data.Length; offset += 10_000)
            {
                await writer.WriteAsync(data.AsMemory(offset, Math.Min(10_000, data.Length - offset)));
                await writer.FlushAsync();
            }
        });

        await using Stream reader = DeflateStreams.CreateReader(tcp.Server, leaveOpen: true);
        byte[] received = await TestPayloads.ReadExactlyAsync(reader, data.Length, 3000).WaitAsync(Timeout);
        await send.WaitAsync(Timeout);
        Assert.Equal(data, received);
    }

    [Fact]
    public void DuplexDisposeFinishesStreamAndDisposesTransport()
    {
        var transport = new MemoryStream();
        Stream duplex = DeflateStreams.CreateDuplex(transport, 6);
        duplex.Write("bye"u8);
        duplex.Dispose();
        Assert.False(transport.CanWrite);
        Assert.Equal("bye"u8.ToArray(), Decompress(transport.ToArray()));
    }

    private static byte[] Compress(byte[] data, int level)
    {
        var output = new MemoryStream();
        using (Stream writer = DeflateStreams.CreateWriter(output, level, leaveOpen: true))
        {
            writer.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Decompress(byte[] compressed)
    {
        using var reader = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var output = new MemoryStream();
        reader.CopyTo(output);
        return output.ToArray();
    }
}
