using System.Runtime.InteropServices;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Records returned by reads own exactly their bytes: a retained record must not pin the read buffer.</summary>
public sealed class ReadBufferTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-readbuf");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Read_BodiesAreBackedByExactSizeArrays()
    {
        await using var log = PartitionLog.Open(Dir, 0, new PartitionLogOptions(), _logger);
        for (int i = 0; i < 100; i++)
        {
            await log.AppendAsync(Body(i, 100 + i), 0).WithTimeout();
        }

        await log.AppendBatchAsync([Body(100, 7), Body(101, 3000)], 0).WithTimeout();

        var records = ReadAll(log, 0, maxMessages: 1000);
        Assert.Equal(102, records.Count);
        foreach (var record in records)
        {
            AssertOwnsExactly(record.Body);
        }

        Assert.True(log.TryRead(50, LogBound.HighWatermark, out var single));
        AssertOwnsExactly(single.Body);
    }

    [Fact]
    public async Task Read_OneSmallRecordDoesNotRetainTheWholeRead()
    {
        await using var log = PartitionLog.Open(Dir, 0, new PartitionLogOptions(), _logger);
        var bodies = new List<ReadOnlyMemory<byte>>();
        for (int i = 0; i < 64; i++)
        {
            bodies.Add(Body(i, 16 * 1024));
        }

        await log.AppendAsync(Body(-1, 10), 0).WithTimeout();
        await log.AppendBatchAsync(bodies, 0).WithTimeout();

        var into = new List<LogRecord>();
        Assert.Equal(65, log.Read(0, 1000, 4 << 20, LogBound.HighWatermark, into));
        Assert.True(MemoryMarshal.TryGetArray(into[0].Body, out ArraySegment<byte> first));
        Assert.Equal(10, first.Array!.Length); // not the ~1 MiB buffer the whole read needed
    }

    private static void AssertOwnsExactly(ReadOnlyMemory<byte> body)
    {
        Assert.True(MemoryMarshal.TryGetArray(body, out ArraySegment<byte> segment));
        Assert.Equal(0, segment.Offset);
        Assert.Equal(body.Length, segment.Array!.Length);
    }
}
