using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>The two bounds: the log end (written and synced) and the high watermark (readable by consumers, what
/// acknowledgements wait for), each with its own wake-ups.</summary>
public sealed class HighWatermarkTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-hw");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    public void Dispose() => _temp.Dispose();

    private PartitionLog Open(bool follows = true) =>
        PartitionLog.Open(Dir, 0, new PartitionLogOptions { HighWatermarkFollowsLogEnd = follows, SegmentBytes = 4096, IndexIntervalBytes = 256 }, _logger);

    [Fact(Timeout = 30_000)]
    public async Task Standalone_HighWatermarkFollowsLogEnd_AndBothListenersWake()
    {
        await using var log = Open();
        int hwWakes = 0;
        int endWakes = 0;
        log.AddDataListener(LogBound.HighWatermark, () => Interlocked.Increment(ref hwWakes));
        log.AddDataListener(LogBound.LogEnd, () => Interlocked.Increment(ref endWakes));
        Assert.Throws<InvalidOperationException>(() => log.AdvanceHighWatermark(0));

        await log.AppendAsync(Body(0), 0).WithTimeout();
        await log.AppendBatchAsync([Body(1), Body(2)], 0).WithTimeout();
        Assert.Equal(3, log.LogEnd);
        Assert.Equal(3, log.HighWatermark);
        Assert.Equal(2, Volatile.Read(ref hwWakes));
        Assert.Equal(2, Volatile.Read(ref endWakes));
        Assert.Equal(3, ReadAll(log).Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task TheWrittenEnd_AdvancesBeforeTheSync_AndTruncationLowersIt()
    {
        // A leader serves its followers what is written before its own fsync finished (LogBound.Written); the written
        // listener runs on the writer thread between the write and the sync, so it sees the gap itself.
        await using var log = Open(follows: false);
        var seen = new List<(long Written, long Syncs)>();
        log.AddDataListener(LogBound.Written, () =>
        {
            lock (seen)
            {
                seen.Add((log.WrittenEnd, log.SyncCount));
            }
        });

        long syncsBefore = log.SyncCount;
        _ = log.AppendAsync(Body(0), 0).AsTask(); // waits for a high watermark that this test never raises
        await WaitForLogEnd(log, 1);
        lock (seen)
        {
            Assert.Equal((1L, syncsBefore), seen[0]); // written, and announced before the sync
        }

        Assert.Equal(1, log.LogEnd);
        Assert.Equal(syncsBefore + 1, log.SyncCount);
        Assert.Equal(1, log.WrittenEnd);
        Assert.Equal(0, log.HighWatermark); // nothing acknowledged or readable by consumers on the written end alone
        var records = new List<LogRecord>();
        log.Read(0, 10, 1 << 20, LogBound.Written, records);
        Assert.Single(records);

        _ = log.AppendBatchAsync([Body(1), Body(2)], 0).AsTask();
        await WaitForLogEnd(log, 3);
        Assert.Equal(3, log.WrittenEnd);
        Assert.Equal(1, await log.TruncateToAsync(1));
        Assert.Equal(1, log.WrittenEnd);
        Assert.Equal(1, log.LogEnd);
    }

    private static async Task WaitForLogEnd(PartitionLog log, long end)
    {
        while (log.LogEnd < end)
        {
            await log.WaitForDataAsync(log.LogEnd, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task OwnedHighWatermark_AppendsWaitForIt_ReadersSeeOnlyBelowIt()
    {
        await using var log = Open(follows: false);
        int hwWakes = 0;
        int endWakes = 0;
        log.AddDataListener(LogBound.HighWatermark, () => Interlocked.Increment(ref hwWakes));
        log.AddDataListener(LogBound.LogEnd, () => Interlocked.Increment(ref endWakes));

        var first = log.AppendAsync(Body(0), 0).AsTask();
        var batch = log.AppendBatchAsync([Body(1), Body(2), Body(3)], 0).AsTask();
        var last = log.AppendAsync(Body(4), 0).AsTask();
        while (log.LogEnd < 5)
        {
            await log.WaitForDataAsync(log.LogEnd, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        }

        // Written and synced, not committed: the appends wait, consumers see nothing, a leader's fetch sees it all.
        Assert.Equal(0, log.HighWatermark);
        Assert.False(first.IsCompleted || batch.IsCompleted || last.IsCompleted);
        Assert.Empty(ReadAll(log));
        Assert.False(log.TryRead(0, LogBound.HighWatermark, out _));
        Assert.True(log.TryRead(0, LogBound.LogEnd, out _));
        var fetched = new List<LogRecord>();
        Assert.Equal(5, log.Read(0, 100, 1 << 20, LogBound.LogEnd, fetched));
        Assert.Equal(0, Volatile.Read(ref hwWakes));
        Assert.True(Volatile.Read(ref endWakes) >= 1);
        var hwWait = log.WaitForDataAsync(0, LogBound.HighWatermark, CancellationToken.None);
        Assert.False(hwWait.IsCompleted);

        // Committing offset 0 and half the MPUB: only the append entirely below the HW completes.
        Assert.Equal(3, log.AdvanceHighWatermark(3));
        Assert.Equal(new AppendResult(0, 1), await first.WithTimeout());
        await hwWait.WithTimeout();
        Assert.False(batch.IsCompleted);
        Assert.Equal(1, Volatile.Read(ref hwWakes));
        Assert.Equal([0L, 1L, 2L], ReadAll(log).Select(r => r.Offset));

        // Monotonic and never beyond the log end.
        Assert.Equal(3, log.AdvanceHighWatermark(2));
        Assert.Equal(1, Volatile.Read(ref hwWakes)); // nothing advanced, nobody woken
        Assert.Equal(5, log.AdvanceHighWatermark(1_000));
        Assert.Equal(new AppendResult(1, 3), await batch.WithTimeout());
        Assert.Equal(new AppendResult(4, 1), await last.WithTimeout());
        Assert.Equal(5, log.HighWatermark);
        Assert.Equal(5, ReadAll(log).Count);
        Assert.Equal(log.HighWatermark, log.FindOffsetByTime(DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds(), LogBound.HighWatermark));
    }

    [Fact(Timeout = 30_000)]
    public async Task OwnedHighWatermark_FlushesDoNotWaitForIt_AppendsDo()
    {
        await using var log = Open(follows: false);
        var append = log.AppendAsync(Body(0), 0).AsTask();
        await log.WaitForDataAsync(0, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        await log.FlushAsync().AsTask().WithTimeout(); // durable is enough for a flush
        Assert.False(append.IsCompleted);
        log.AdvanceHighWatermark(1);
        await append.WithTimeout();

        var pending = log.AppendAsync(Body(1), 0).AsTask();
        await log.WaitForDataAsync(1, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        Assert.False(pending.IsCompleted);
        log.AdvanceHighWatermark(2);
        Assert.Equal(1, (await pending.WithTimeout()).FirstOffset);
    }

    [Fact(Timeout = 30_000)]
    public async Task OwnedHighWatermark_StartsAtTheLogStartOnOpen_AndCloseFailsUncommittedAppends()
    {
        await using (var log = Open())
        {
            for (int i = 0; i < 4; i++)
            {
                await log.AppendAsync(Body(i), 0).WithTimeout();
            }
        }

        var owned = Open(follows: false);
        Assert.Equal(4, owned.LogEnd);
        Assert.Equal(0, owned.HighWatermark); // the owner restores it
        Assert.Equal(2, owned.AdvanceHighWatermark(2));
        var uncommitted = owned.AppendAsync(Body(4), 0).AsTask();
        await owned.WaitForDataAsync(4, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        await owned.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => uncommitted.WithTimeout());

        // It was written, though: the log end survives the close.
        await using var reopened = Open();
        Assert.Equal(5, reopened.LogEnd);
    }

    [Fact(Timeout = 30_000)]
    public async Task Listeners_ArePerBound_AndRemovable()
    {
        await using var log = Open(follows: false);
        int hw = 0;
        int end = 0;
        Action onHw = () => Interlocked.Increment(ref hw);
        Action onEnd = () => Interlocked.Increment(ref end);
        log.AddDataListener(LogBound.HighWatermark, onHw);
        log.AddDataListener(LogBound.LogEnd, onEnd);
        log.RemoveDataListener(LogBound.LogEnd, onHw); // not registered for that bound: no effect
        var append = log.AppendAsync(Body(0), 0).AsTask();
        await log.WaitForDataAsync(0, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        log.AdvanceHighWatermark(1);
        await append.WithTimeout();
        Assert.Equal(1, Volatile.Read(ref hw));
        Assert.Equal(1, Volatile.Read(ref end));

        log.RemoveDataListener(LogBound.HighWatermark, onHw);
        log.RemoveDataListener(LogBound.LogEnd, onEnd);
        var second = log.AppendAsync(Body(1), 0).AsTask();
        await log.WaitForDataAsync(1, LogBound.LogEnd, CancellationToken.None).WithTimeout();
        log.AdvanceHighWatermark(2);
        await second.WithTimeout();
        Assert.Equal(1, Volatile.Read(ref hw));
        Assert.Equal(1, Volatile.Read(ref end));
    }

    [Fact(Timeout = 30_000)]
    public async Task OwnedHighWatermark_SurvivesARestart_ThroughItsCheckpoint()
    {
        await using (var log = Open(follows: false))
        {
            var appends = Enumerable.Range(0, 5).Select(i => log.AppendAsync(Body(i), 0).AsTask()).ToList();
            while (log.LogEnd < 5)
            {
                await log.WaitForDataAsync(log.LogEnd, LogBound.LogEnd, CancellationToken.None).WithTimeout();
            }

            log.AdvanceHighWatermark(3);
            Assert.True(log.CheckpointHighWatermark());
            Assert.False(log.CheckpointHighWatermark()); // unchanged: nothing written
            log.AdvanceHighWatermark(4);
            await Task.WhenAll(appends.Take(4)).WithTimeout();
        } // the close writes the last value (4)

        await using (var log = Open(follows: false))
        {
            Assert.Equal(5, log.LogEnd);
            Assert.Equal(4, log.HighWatermark);
            Assert.Equal(4, ReadAll(log).Count);
        }

        // A damaged checkpoint is not trusted: the HW starts at the log start (consumers wait, nothing is read early).
        var path = Path.Combine(Dir, "high-watermark-checkpoint");
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[6] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
        await using (var log = Open(follows: false))
        {
            Assert.Equal(0, log.HighWatermark);
            Assert.True(_logger.Has(Microsoft.Extensions.Logging.LogLevel.Warning, "high-watermark checkpoint unusable"));
        }

        // Standalone logs keep none: their HW is the log end.
        File.Delete(path);
        await using (var log = Open())
        {
            Assert.Equal(5, log.HighWatermark);
            Assert.False(log.CheckpointHighWatermark());
            Assert.False(File.Exists(path));
        }
    }
}
