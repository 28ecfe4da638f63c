using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Writers run on a small fixed set of dedicated threads shared by many logs, one turn per log at a time,
/// still group-committing.</summary>
public sealed class LogWriterPoolTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-writers");
    private readonly ListLogger _logger = new();

    public void Dispose() => _temp.Dispose();

    [Fact(Timeout = 120_000)]
    public async Task ManyLogsOnTwoThreads_AllAppendsComplete_OnPoolThreads_WithOneWriterPerLog()
    {
        const int logs = 60;
        const int perLog = 40;
        using var pool = new LogWriterPool(2, "test-writer");
        var options = new PartitionLogOptions { WriterPool = pool, SegmentBytes = 4096 };
        var opened = new PartitionLog[logs];
        var writerThreads = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        int inside = 0;
        int overlaps = 0;
        try
        {
            for (int i = 0; i < logs; i++)
            {
                PartitionLog log = PartitionLog.Open(Path.Combine(_temp.Path, $"t{i}", "0"), 0, options, _logger);
                opened[i] = log;

                // Listeners run on the writer: record where, and that a log never has two writers at once.
                int mine = 0;
                log.AddDataListener(LogBound.LogEnd, () =>
                {
                    if (Interlocked.Increment(ref mine) != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    Interlocked.Increment(ref inside);
                    writerThreads.TryAdd(Thread.CurrentThread.Name ?? "?", Thread.CurrentThread.IsThreadPoolThread);
                    Thread.SpinWait(50);
                    Interlocked.Decrement(ref mine);
                });
            }

            Assert.Same(pool, opened[0].WriterPool);
            var appends = new List<Task<AppendResult>>();
            for (int round = 0; round < perLog; round++)
            {
                foreach (PartitionLog log in opened)
                {
                    appends.Add(log.AppendAsync(Body(round), 0).AsTask());
                }
            }

            AppendResult[] results = await Task.WhenAll(appends).WaitAsync(TimeSpan.FromSeconds(100));
            Assert.Equal(logs * perLog, results.Length);
            foreach (PartitionLog log in opened)
            {
                Assert.Equal(perLog, log.LogEnd);
                Assert.Equal(perLog, ReadAll(log).Count);
                Assert.True(log.SyncCount < perLog, $"{log.SyncCount} fsyncs for {perLog} queued appends: no group commit");
            }

            Assert.Equal(0, Volatile.Read(ref overlaps));
            Assert.NotEmpty(writerThreads);
            foreach ((string name, bool poolThread) in writerThreads)
            {
                Assert.StartsWith("test-writer-", name, StringComparison.Ordinal);
                Assert.False(poolThread);
            }

            Assert.InRange(writerThreads.Count, 1, 2);
        }
        finally
        {
            foreach (PartitionLog? log in opened)
            {
                if (log is not null)
                {
                    await log.DisposeAsync();
                }
            }
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task RelaxedSync_TimerSchedulesTheFsync()
    {
        using var pool = new LogWriterPool(1, "test-writer");
        await using var log = PartitionLog.Open(Path.Combine(_temp.Path, "relaxed", "0"), 0,
            new PartitionLogOptions { WriterPool = pool, SyncMode = SyncMode.Interval, SyncTimeout = TimeSpan.FromMilliseconds(20) }, _logger);
        long before = log.SyncCount;
        await log.AppendAsync(Body(0), 0).WithTimeout();
        while (log.SyncCount == before)
        {
            await Task.Delay(10); // no further append: only the timer can bring the fsync
        }

        Assert.True(log.SyncCount > before);
    }

    [Fact(Timeout = 10_000)]
    public async Task Pool_Validates_AndTheSharedOneIsSmall()
    {
        await Task.Yield();
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogWriterPool(0));
        Assert.InRange(LogWriterPool.Shared.ThreadCount, 4, Math.Max(4, Environment.ProcessorCount));
        LogWriterPool.Shared.Dispose(); // ignored: logs everywhere use it
        Assert.Equal(LogWriterPool.DefaultThreadCount, LogWriterPool.Shared.ThreadCount);
    }
}
