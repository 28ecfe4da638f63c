using NsqSharp.Common.Compression;
using Xunit;

namespace NsqSharp.Common.Tests.Compression;

public class SnappyFrameStreamRoundTripTests
{
    [Fact]
    public void RoundTripsRandomSizesWithRandomWriteAndReadPatterns()
    {
        var random = new Random(42);
        int[] sizes = [0, 1, 7, 65535, 65536, 65537, 131072, 1 << 20, .. Enumerable.Range(0, 12).Select(_ => random.Next(1 << 20))];
        foreach (int size in sizes)
        {
            byte[] data = random.Next(2) == 0 ? TestPayloads.Random(size, size) : TestPayloads.Compressible(size, size);
            var pipe = new InMemoryPipeStream { MaxReadSize = random.Next(2) == 0 ? int.MaxValue : random.Next(1, 5000) };
            using var snappy = new SnappyFrameStream(pipe);
            int written = 0;
            while (written < size)
            {
                int n = Math.Min(size - written, random.Next(3) == 0 ? random.Next(200_000) : random.Next(1, 300));
                snappy.Write(data, written, n);
                written += n;
                if (random.Next(10) == 0)
                {
                    snappy.Flush();
                }
            }

            snappy.Flush();
            Assert.Equal(data, TestPayloads.ReadExactly(snappy, size, random.Next(1, 100_000)));
            Assert.Equal(0, snappy.Read(new byte[10], 0, 10)); // inner pipe is drained: clean end of stream
        }
    }

    [Fact]
    public async Task RoundTripsAsyncPaths()
    {
        var random = new Random(43);
        foreach (int size in new[] { 0, 5, 65536, 65537, 300_000, 1 << 20 })
        {
            byte[] data = TestPayloads.Compressible(size, size);
            var pipe = new InMemoryPipeStream { MaxReadSize = 3000 };
            await using var snappy = new SnappyFrameStream(pipe);
            int written = 0;
            while (written < size)
            {
                int n = Math.Min(size - written, random.Next(1, 90_000));
                await snappy.WriteAsync(data.AsMemory(written, n));
                written += n;
                if (random.Next(4) == 0)
                {
                    await snappy.FlushAsync();
                }
            }

            await snappy.FlushAsync();
            Assert.Equal(data, await TestPayloads.ReadExactlyAsync(snappy, size, random.Next(1, 70_000)));
            Assert.Equal(0, await snappy.ReadAsync(new byte[10]));
        }
    }

    [Fact]
    public void ReadByteAndWriteByteWork()
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe);
        snappy.WriteByte(1);
        snappy.WriteByte(255);
        snappy.Flush();
        Assert.Equal(1, snappy.ReadByte());
        Assert.Equal(255, snappy.ReadByte());
        Assert.Equal(-1, snappy.ReadByte());
    }

    [Fact]
    public void SteadyStateWriteFlushReadAllocatesOnlySnappiersDecoder()
    {
        var pipe = new InMemoryPipeStream();
        using var snappy = new SnappyFrameStream(pipe);
        byte[] message = TestPayloads.Compressible(1000, 8);
        byte[] incompressible = TestPayloads.Random(1000, 8);
        byte[] readBuffer = new byte[500]; // smaller than a chunk: exercises the decoded-data buffer

        void RoundTrip()
        {
            snappy.Write(message);
            snappy.Write(incompressible);
            snappy.Flush();
            int total = 0;
            while (total < 2000)
            {
                total += snappy.Read(readBuffer);
            }
        }

        for (int i = 0; i < 10; i++)
        {
            RoundTrip();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            RoundTrip();
        }

        AssertOnlyDecoderAllocations(GC.GetAllocatedBytesForCurrentThread() - before, compressedChunks: 1000);
    }

    [Fact]
    public async Task SteadyStateAsyncWriteFlushReadAllocatesOnlySnappiersDecoder()
    {
        var pipe = new InMemoryPipeStream();
        await using var snappy = new SnappyFrameStream(pipe);
        byte[] message = TestPayloads.Compressible(1000, 8);
        Memory<byte> readBuffer = new byte[4000];

        async Task RoundTrip()
        {
            await snappy.WriteAsync(message);
            await snappy.FlushAsync();
            int total = 0;
            while (total < 1000)
            {
                total += await snappy.ReadAsync(readBuffer);
            }
        }

        for (int i = 0; i < 10; i++)
        {
            await RoundTrip();
        }

        // The in-memory pipe completes synchronously, so everything stays on this thread.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            await snappy.WriteAsync(message);
            await snappy.FlushAsync();
            int total = 0;
            while (total < 1000)
            {
                total += await snappy.ReadAsync(readBuffer);
            }
        }

        AssertOnlyDecoderAllocations(GC.GetAllocatedBytesForCurrentThread() - before, compressedChunks: 1000);
    }

    // Buffers are pooled and reused; the one allocation left is the small decoder object that
    // Snappier's Snappy.Decompress creates for each compressed chunk (80 bytes with Snappier 1.3.1).
    private static void AssertOnlyDecoderAllocations(long allocated, int compressedChunks) =>
        Assert.InRange(allocated, 0, compressedChunks * 128L);
}
