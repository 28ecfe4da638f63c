using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>The leader-epoch cache: KIP-101 answers, its checkpoint file, and recovery cross-checking it against the log.</summary>
public sealed class LeaderEpochCacheTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-epochs");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    private string CheckpointPath => Path.Combine(Dir, LeaderEpochCache.FileName);

    public void Dispose() => _temp.Dispose();

    private PartitionLog Open() =>
        PartitionLog.Open(Dir, 0, new PartitionLogOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 1 << 20 }, _logger);

    private LeaderEpochCache Cache(params (long Epoch, long Start)[] entries)
    {
        Directory.CreateDirectory(Dir);
        LeaderEpochCache cache = LeaderEpochCache.Load(Dir, out string? problem);
        Assert.Null(problem);
        foreach ((long epoch, long start) in entries)
        {
            Assert.True(cache.Assign(epoch, start));
        }

        return cache;
    }

    private static async Task AppendAsync(PartitionLog log, long epoch, int count)
    {
        log.LeaderEpoch = epoch;
        for (int i = 0; i < count; i++)
        {
            await log.AppendAsync(Body(i), 0).WithTimeout();
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task EndOffsetFor_AnswersAsKip101()
    {
        await Task.Yield();
        LeaderEpochCache cache = Cache((2, 0), (5, 10), (7, 30));
        Assert.Equal(new EpochEndOffset(7, 50), cache.EndOffsetFor(7, 50)); // the latest: the log end
        Assert.Equal(new EpochEndOffset(5, 30), cache.EndOffsetFor(5, 50)); // the next epoch's start
        Assert.Equal(new EpochEndOffset(5, 30), cache.EndOffsetFor(6, 50)); // between: the largest known below it
        Assert.Equal(new EpochEndOffset(2, 10), cache.EndOffsetFor(2, 50));
        Assert.Equal(new EpochEndOffset(2, 10), cache.EndOffsetFor(4, 50));
        Assert.Equal(new EpochEndOffset(1, 0), cache.EndOffsetFor(1, 50));  // below the earliest: the earliest start
        Assert.Equal(EpochEndOffset.Undefined, cache.EndOffsetFor(8, 50)); // above the latest
        Assert.Equal(EpochEndOffset.Undefined, cache.EndOffsetFor(-1, 50));
        Assert.False(EpochEndOffset.Undefined.IsDefined);
        Assert.Equal(EpochEndOffset.Undefined, Cache().EndOffsetFor(0, 50));

        Assert.Equal(5, cache.EpochAt(29));
        Assert.Equal(7, cache.EpochAt(30));
        Assert.Equal(-1, Cache((3, 10)).EpochAt(9));

        Assert.False(cache.Assign(7, 40)); // already the latest
        Assert.Throws<InvalidOperationException>(() => cache.Assign(6, 40));
        Assert.Throws<InvalidOperationException>(() => cache.Assign(8, 20));
    }

    [Fact(Timeout = 10_000)]
    public async Task Truncation_FromEndAndFromStart()
    {
        await Task.Yield();
        LeaderEpochCache cache = Cache((2, 0), (5, 10), (7, 30));
        Assert.False(cache.TruncateFromEnd(31));
        Assert.True(cache.TruncateFromEnd(30));
        Assert.Equal([new EpochEntry(2, 0), new EpochEntry(5, 10)], cache.Entries);

        Assert.False(cache.TruncateFromStart(0));
        Assert.True(cache.TruncateFromStart(12)); // epoch 2 is gone; epoch 5 now starts at the log start
        Assert.Equal([new EpochEntry(5, 12)], cache.Entries);
        Assert.True(cache.IsDirty);
    }

    [Fact(Timeout = 10_000)]
    public async Task Checkpoint_RoundTrips_AndADamagedOneLoadsEmpty()
    {
        await Task.Yield();
        LeaderEpochCache cache = Cache((2, 0), (5, 10));
        cache.Persist();
        Assert.False(cache.IsDirty);
        Assert.Equal([CheckpointPath], Directory.GetFiles(Dir));
        Assert.Equal(cache.Entries, LeaderEpochCache.Load(Dir, out string? none).Entries);
        Assert.Null(none);

        byte[] bytes = File.ReadAllBytes(CheckpointPath);
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(CheckpointPath, bytes);
        LeaderEpochCache damaged = LeaderEpochCache.Load(Dir, out string? problem);
        Assert.Equal("CRC mismatch", problem);
        Assert.Empty(damaged.Entries);
        Assert.True(damaged.IsDirty);
    }

    [Fact(Timeout = 30_000)]
    public async Task Log_RecordsEachEpochOnce_AndPersistsIt()
    {
        await using (var log = Open())
        {
            Assert.Equal(-1, log.LatestEpoch);
            Assert.False(File.Exists(CheckpointPath)); // an empty log has none
            await AppendAsync(log, 0, 3);
            Assert.True(File.Exists(CheckpointPath)); // written before the first append of the epoch was acknowledged
            await AppendAsync(log, 4, 3);
            await AppendAsync(log, 9, 2);
            Assert.Equal([new EpochEntry(0, 0), new EpochEntry(4, 3), new EpochEntry(9, 6)], log.LeaderEpochs);
            Assert.Equal(new EpochEndOffset(4, 6), log.EndOffsetForEpoch(4));
            Assert.Equal(new EpochEndOffset(9, 8), log.EndOffsetForEpoch(9));
            Assert.Throws<ArgumentOutOfRangeException>(() => log.LeaderEpoch = 8);
        }

        Assert.Equal([new EpochEntry(0, 0), new EpochEntry(4, 3), new EpochEntry(9, 6)], LeaderEpochCache.Load(Dir, out _).Entries);
        await using var reopened = Open();
        Assert.Equal(9, reopened.LeaderEpoch); // starts at the latest epoch in the log
        Assert.Equal(9, reopened.LatestEpoch);
    }

    [Fact(Timeout = 30_000)]
    public async Task Recovery_RemovesEntriesPastTheLogEnd()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 3, 5);
        }

        // A crash after the checkpoint was written, before the batch of epoch 6 reached the disk.
        LeaderEpochCache ahead = LeaderEpochCache.Load(Dir, out _);
        ahead.Assign(6, 5);
        ahead.Persist();

        await using var reopened = Open();
        Assert.Equal([new EpochEntry(3, 0)], reopened.LeaderEpochs);
        Assert.Equal([new EpochEntry(3, 0)], LeaderEpochCache.Load(Dir, out _).Entries); // written back
        Assert.True(_logger.Has(LogLevel.Warning, "leader-epoch cache corrected"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Recovery_RebuildsALostOrDamagedCheckpointFromTheTail()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 1, 4);
            await AppendAsync(log, 2, 4);
        }

        File.Delete(CheckpointPath); // a log from before the checkpoint existed, or a lost file
        await using (var reopened = Open())
        {
            Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 4)], reopened.LeaderEpochs);
            Assert.True(_logger.Has(LogLevel.Information, "leader-epoch cache created"));
        }

        File.WriteAllBytes(CheckpointPath, [1, 2, 3]);
        await using var again = Open();
        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 4)], again.LeaderEpochs);
        Assert.True(_logger.Has(LogLevel.Error, "leader-epoch checkpoint unusable"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Recovery_AnEpochThatGoesDown_IsCorruptionCountedAndIgnored()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 4, 6);
            await AppendAsync(log, 7, 2);
        }

        // Overwrite the epoch field (not covered by the CRC) of the batch at offset 3 with 1: below its predecessor's 4.
        string path = SegmentPath(Dir, 0);
        const int batchLength = 48 + 24 + 32;
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(handle, BitConverter.GetBytes(1L), (3 * batchLength) + 8);
        }

        File.Delete(SegmentPath(Dir, 0, ".index")); // unclean: the whole segment is scanned
        await using var reopened = Open();
        Assert.Equal(1, reopened.CorruptHeadersRepaired);
        Assert.Equal(0, reopened.CorruptBatchesSkipped);
        Assert.Equal(8, ReadAll(reopened).Count); // nothing lost
        Assert.Equal([new EpochEntry(4, 0), new EpochEntry(7, 6)], reopened.LeaderEpochs);
        Assert.True(_logger.Has(LogLevel.Error, "leader epoch"));
    }
}
