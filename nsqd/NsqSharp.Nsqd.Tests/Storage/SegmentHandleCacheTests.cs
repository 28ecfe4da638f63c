using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

public sealed class SegmentHandleCacheTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-handles");
    private readonly ListLogger _logger = new();

    public void Dispose() => _temp.Dispose();

    private string NewFile(string name, byte fill)
    {
        string path = Path.Combine(_temp.Path, name);
        File.WriteAllBytes(path, Enumerable.Repeat(fill, 100).ToArray());
        return path;
    }

    [Fact]
    public void Leases_AreNeverClosedUnderneath_AndTheBudgetIsRestoredWhenTheyEnd()
    {
        var cache = new SegmentHandleCache(1);
        var a = new SegmentFile(cache, NewFile("a", 1), writable: false);
        var b = new SegmentFile(cache, NewFile("b", 2), writable: false);

        SegmentLease leaseA = a.Acquire();
        using (SegmentLease leaseB = b.Acquire())
        {
            Assert.Equal(2, cache.OpenHandles); // over budget while both are leased
        }

        Assert.Equal(1, cache.OpenHandles); // b closed on release: over budget

        a.Close(); // as retention deleting the segment mid-read
        File.Delete(a.Path);
        var buffer = new byte[100];
        Assert.Equal(100, RandomAccess.Read(leaseA.Handle, buffer, 0)); // the reader finishes on the unlinked file
        Assert.All(buffer, x => Assert.Equal(1, x));
        Assert.Throws<ObjectDisposedException>(() => a.Acquire());
        leaseA.Dispose();
        Assert.Equal(0, cache.OpenHandles);
        Assert.True(leaseA.Handle.IsClosed);
    }

    [Fact]
    public void IdleHandles_AreReusedWithinTheBudget_AndEvictedLeastRecentlyUsedFirst()
    {
        var cache = new SegmentHandleCache(2);
        var files = Enumerable.Range(0, 3).Select(i => new SegmentFile(cache, NewFile("f" + i, (byte)i), writable: false)).ToArray();
        files[0].Acquire().Dispose();
        files[1].Acquire().Dispose();
        files[0].Acquire().Dispose(); // reuse: no new open
        Assert.Equal(2, cache.HandlesOpened);
        files[2].Acquire().Dispose(); // evicts files[1], the least recently used
        Assert.Equal(2, cache.OpenHandles);
        Assert.Equal(1, cache.HandlesEvicted);
        files[0].Acquire().Dispose();
        Assert.Equal(3, cache.HandlesOpened);
        files[1].Acquire().Dispose();
        Assert.Equal(4, cache.HandlesOpened);
    }

    [Fact]
    public async Task IdleHandles_CloseAfterTheIdleTimeout()
    {
        var cache = new SegmentHandleCache(16, TimeSpan.FromMilliseconds(200));
        var file = new SegmentFile(cache, NewFile("idle", 7), writable: false);
        file.Acquire().Dispose();
        Assert.Equal(1, cache.OpenHandles);
        var deadline = DateTime.UtcNow + TestTimeout;
        while (cache.OpenHandles > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, cache.OpenHandles);
        using SegmentLease again = file.Acquire(); // reopens on demand
        Assert.False(again.Handle.IsClosed);
    }

    [Fact]
    public async Task Retention_DeletesASegmentWhileAReaderHoldsItsLease()
    {
        var cache = new SegmentHandleCache(64);
        var options = new PartitionLogOptions { SegmentBytes = 1024, RetentionBytes = 1, HandleCache = cache };
        await using var log = PartitionLog.Open(Path.Combine(_temp.Path, "t", "0"), 0, options, _logger);
        for (int i = 0; i < 40; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        LogSegment first = log.Segments[0];
        using (SegmentLease lease = first.File.Acquire())
        {
            Assert.True(log.EnforceRetention(long.MaxValue, DateTimeOffset.UtcNow) > 0);
            Assert.False(File.Exists(first.LogPath));
            var header = new byte[8];
            Assert.Equal(8, RandomAccess.Read(lease.Handle, header, 0)); // still readable through the lease
            Assert.Equal(0, BitConverter.ToInt64(header));
            Assert.Throws<ObjectDisposedException>(() => first.File.Acquire());
        }

        Assert.True(log.StartOffset > 0);
        Assert.Equal(40, ReadAll(log, 0).Count + log.StartOffset);
    }

    [Fact]
    public async Task ManyLogsOnATinyBudget_AppendAndReadConcurrently_WithoutErrors()
    {
        var cache = new SegmentHandleCache(3);
        var options = new PartitionLogOptions { SegmentBytes = 4096, IndexIntervalBytes = 256, HandleCache = cache };
        var logs = Enumerable.Range(0, 12).Select(i => PartitionLog.Open(Path.Combine(_temp.Path, "c" + i, "0"), 0, options, _logger)).ToArray();
        try
        {
            const int perLog = 150;
            var writers = logs.Select(log => Task.Run(async () =>
            {
                for (int i = 0; i < perLog; i++)
                {
                    await log.AppendAsync(Body(i, 60), 0).WithTimeout();
                }
            })).ToArray();
            var readers = Enumerable.Range(0, 4).Select(r => Task.Run(() =>
            {
                var chunk = new List<LogRecord>();
                while (!writers.All(w => w.IsCompleted))
                {
                    foreach (var log in logs)
                    {
                        chunk.Clear();
                        log.Read(Random.Shared.NextInt64(Math.Max(1, log.HighWatermark)), 5, 1 << 20, LogBound.HighWatermark, chunk);
                        foreach (var record in chunk)
                        {
                            Assert.Equal(record.Offset, BodyId(record.Body));
                        }

                        long newest = log.HighWatermark - 1;
                        if (newest >= 0 && log.TryRead(newest, LogBound.HighWatermark, out var last))
                        {
                            Assert.Equal(newest, BodyId(last.Body));
                        }
                    }
                }
            })).ToArray();
            await Task.WhenAll(writers.Concat(readers)).WaitAsync(TestTimeout);

            foreach (var log in logs)
            {
                Assert.Null(log.Health);
                Assert.Equal(Enumerable.Range(0, perLog), ReadAll(log).Select(r => BodyId(r.Body)));
            }

            Assert.InRange(cache.OpenHandles, 0, cache.Budget);
            Assert.True(cache.HandlesEvicted > 0);
        }
        finally
        {
            foreach (var log in logs)
            {
                await log.DisposeAsync();
            }
        }

        Assert.Equal(0, cache.OpenHandles);
    }

    [Fact]
    public void DataDirectoryLock_IsExclusive_AndReleasedOnDispose()
    {
        string data = Path.Combine(_temp.Path, "data");
        using (var held = DataDirectoryLock.Acquire(data))
        {
            Assert.True(File.Exists(held.Path));
            var e = Assert.Throws<IOException>(() => DataDirectoryLock.Acquire(data));
            Assert.Contains("in use", e.Message, StringComparison.Ordinal);
        }

        using var again = DataDirectoryLock.Acquire(data);
    }
}
