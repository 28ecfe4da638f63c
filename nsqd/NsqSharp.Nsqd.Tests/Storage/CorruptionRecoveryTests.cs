using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>
/// A damaged batch costs only its own records: readers and recovery resynchronise at the next valid batch,
/// offsets follow continuity, and every corruption is logged and counted.
/// </summary>
public sealed class CorruptionRecoveryTests : IDisposable
{
    private const int BodySize = 40;
    private const int BatchSize = 48 + 24 + BodySize;
    private const int Messages = 60;

    private readonly TempDirectory _temp = new("nsqsharp-corrupt");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    private string LogPath => SegmentPath(Dir, 0);

    public void Dispose() => _temp.Dispose();

    private static PartitionLogOptions Options(long segmentBytes = 1 << 20) => new() { SegmentBytes = segmentBytes, IndexIntervalBytes = 1024 };

    private PartitionLog Open(PartitionLogOptions? options = null) => PartitionLog.Open(Dir, 0, options ?? Options(), _logger);

    private async Task<PartitionLog> OpenWithMessagesAsync(PartitionLogOptions? options = null)
    {
        var log = Open(options);
        for (int i = 0; i < Messages; i++)
        {
            await log.AppendAsync(Body(i, BodySize), 0).WithTimeout();
        }

        return log;
    }

    /// <summary>XORs bytes of a file in place (through its own handle, as bit rot or a stray write would).</summary>
    private static void Flip(string path, long position, byte mask = 0x40, int count = 1)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[count];
        RandomAccess.Read(handle, bytes, position);
        for (int i = 0; i < count; i++)
        {
            bytes[i] ^= mask;
        }

        RandomAccess.Write(handle, bytes, position);
    }

    private static void WriteInt32(string path, long position, int value)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        RandomAccess.Write(handle, BitConverter.GetBytes(value), position);
    }

    private void DeleteIndexes(long baseOffset = 0)
    {
        File.Delete(SegmentPath(Dir, baseOffset, ".index"));
        File.Delete(SegmentPath(Dir, baseOffset, ".timeindex"));
    }

    /// <summary>Ids read with several batch sizes (all must agree), after checking each record is the one at its offset.</summary>
    private static List<int> ReadIds(PartitionLog log)
    {
        List<int>? first = null;
        foreach (int max in (ReadOnlySpan<int>)[1000, 7, 1])
        {
            var records = ReadAll(log, 0, maxMessages: max);
            var ids = records.Select(r => BodyId(r.Body)).ToList();
            Assert.Equal(records.Select(r => (int)r.Offset), ids);
            if (first is null)
            {
                first = ids;
            }
            else
            {
                Assert.Equal(first, ids);
            }
        }

        return first!;
    }

    private static List<int> AllBut(params int[] missing) => Enumerable.Range(0, Messages).Except(missing).ToList();

    [Fact]
    public async Task CorruptBody_LosesOnlyThatBatch_LiveAfterReopenAndAfterCrash()
    {
        await using (var log = await OpenWithMessagesAsync())
        {
            Flip(LogPath, (30L * BatchSize) + 48 + 24 + 5);
            Assert.Equal(AllBut(30), ReadIds(log));
            Assert.False(log.TryRead(30, LogBound.HighWatermark, out _));
            Assert.True(log.TryRead(31, LogBound.HighWatermark, out var r31));
            Assert.Equal(31, BodyId(r31.Body));
            AssertCounters(log, batches: 1, messages: 1, repaired: 0); // once, however many reads passed it
        }

        Assert.True(_logger.Has(LogLevel.Error, "CRC mismatch"));

        await using (var log = Open())
        {
            Assert.Equal(Messages, log.LogEnd);
            Assert.Equal(AllBut(30), ReadIds(log));
            AssertCounters(log, batches: 1, messages: 1, repaired: 0);
        }

        DeleteIndexes(); // as after a crash: recovery rescans the whole segment
        long length = new FileInfo(LogPath).Length;
        await using (var log = Open())
        {
            Assert.Equal(Messages, log.LogEnd);
            Assert.Equal(length, new FileInfo(LogPath).Length); // nothing truncated: later batches were acknowledged
            AssertCounters(log, batches: 1, messages: 1, repaired: 0); // found by recovery
            Assert.Equal(AllBut(30), ReadIds(log));
            AssertCounters(log, batches: 1, messages: 1, repaired: 0);
            Assert.Equal(Messages, (await log.AppendAsync(Body(Messages, BodySize), 0).WithTimeout()).FirstOffset);
        }
    }

    [Fact]
    public async Task CorruptBatchInClosedSegments_LosesOnlyThatBatch()
    {
        var options = Options(segmentBytes: 15 * BatchSize);
        await using (var log = await OpenWithMessagesAsync(options))
        {
        }

        long[] bases = SegmentBases(Dir);
        Assert.True(bases.Length >= 3);

        // Segment 0: corrupt batch #5 and drop its index (found by the rescan on open).
        Flip(SegmentPath(Dir, bases[0]), (5L * BatchSize) + 80);
        DeleteIndexes(bases[0]);

        // Segment 1: corrupt batch #2 but keep its (valid) index: found only when read.
        Flip(SegmentPath(Dir, bases[1]), (2L * BatchSize) + 80);

        await using var reopened = Open(options);
        Assert.Equal(Messages, reopened.LogEnd);
        int lost1 = (int)bases[1] + 2;
        Assert.Equal(AllBut(5, lost1), ReadIds(reopened));
        Assert.False(reopened.TryRead(5, LogBound.HighWatermark, out _));
        Assert.True(reopened.TryRead(6, LogBound.HighWatermark, out var r6));
        Assert.Equal(6, BodyId(r6.Body));
        AssertCounters(reopened, batches: 2, messages: 2, repaired: 0);
    }

    [Fact]
    public async Task UncleanShutdown_CorruptBatchInLastSegment_KeepsTheLaterAcknowledgedBatches()
    {
        await using (var log = await OpenWithMessagesAsync())
        {
        }

        DeleteIndexes();
        Flip(LogPath, (12L * BatchSize) + 60);
        long length = new FileInfo(LogPath).Length;

        await using var reopened = Open();
        Assert.Equal(Messages, reopened.LogEnd);
        Assert.Equal(length, new FileInfo(LogPath).Length);
        Assert.Equal(AllBut(12), ReadIds(reopened));
        AssertCounters(reopened, batches: 1, messages: 1, repaired: 0);
        Assert.Equal(Messages, (await reopened.AppendAsync(Body(Messages, BodySize), 0).WithTimeout()).FirstOffset);
    }

    [Fact]
    public async Task UncleanShutdown_CorruptBatchInLastSegment_OfAReplica_CutsTheLogThere()
    {
        // A replica keeps no hole: it cuts at the damage and fetches the rest again from its leader (the chaos
        // harness's bit-flip fault showed a follower that had skipped one batch and kept the later ones).
        await using (var log = await OpenWithMessagesAsync())
        {
        }

        DeleteIndexes();
        Flip(LogPath, (12L * BatchSize) + 60);

        await using var reopened = Open(new PartitionLogOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 1024, TruncateAtCorruption = true });
        Assert.Equal(12, reopened.LogEnd);
        Assert.Equal(12L * BatchSize, new FileInfo(LogPath).Length);
        Assert.Equal(Enumerable.Range(0, 12).ToList(), ReadIds(reopened));
        Assert.Equal(12, (await reopened.AppendAsync(Body(12, BodySize), 0).WithTimeout()).FirstOffset);
    }

    [Fact]
    public async Task AReplicasLastBatch_WithAnEpochPastItsCheckpoint_IsCut()
    {
        // The leader-epoch field is not covered by the CRC; a flipped high bit made epoch 37 into 134217765 in a chaos
        // run, and the follower then truncated its whole log to match its leader. A replica cuts such a batch instead:
        // acknowledged data always has its epoch checkpointed first.
        var options = new PartitionLogOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 1024, TruncateAtCorruption = true };
        await using (var log = await OpenWithMessagesAsync(options))
        {
        }

        DeleteIndexes();
        Flip(LogPath, ((Messages - 1L) * BatchSize) + 8 + 3, mask: 0x08); // epoch += 2^27 in the last batch

        await using var reopened = Open(options);
        Assert.Equal(Messages - 1, reopened.LogEnd);
        Assert.Equal((Messages - 1L) * BatchSize, new FileInfo(LogPath).Length);
        Assert.DoesNotContain(reopened.LeaderEpochs, e => e.Epoch > 1_000_000);
    }

    [Theory]
    [InlineData(1, 0x01)]
    [InlineData(4, 0x01)]
    [InlineData(7, 0x80)] // negative
    public async Task FlippedBaseOffset_LosesNothing_AndIsReported(int fieldByte, byte mask)
    {
        await using (var log = await OpenWithMessagesAsync())
        {
            Flip(LogPath, (30L * BatchSize) + fieldByte, mask);
            Assert.Equal(AllBut(), ReadIds(log));
            Assert.True(log.TryRead(30, LogBound.HighWatermark, out var r30));
            Assert.Equal(30, BodyId(r30.Body));
            AssertCounters(log, batches: 0, messages: 0, repaired: 1);
        }

        Assert.True(_logger.Has(LogLevel.Error, "base offset"));

        DeleteIndexes();
        await using (var log = Open())
        {
            Assert.Equal(Messages, log.LogEnd);
            Assert.Equal(AllBut(), ReadIds(log));
            AssertCounters(log, batches: 0, messages: 0, repaired: 1);
        }
    }

    [Fact]
    public async Task FlippedBaseOffsetOfTheLastBatch_AfterCrash_KeepsOffsetsContinuous()
    {
        await using (var log = await OpenWithMessagesAsync())
        {
        }

        DeleteIndexes();
        Flip(LogPath, ((Messages - 1L) * BatchSize) + 2, 0x01);
        await using var reopened = Open();
        Assert.Equal(Messages, reopened.LogEnd);
        Assert.Equal(AllBut(), ReadIds(reopened));
        AssertCounters(reopened, batches: 0, messages: 0, repaired: 1);
        Assert.Equal(Messages, (await reopened.AppendAsync(Body(Messages, BodySize), 0).WithTimeout()).FirstOffset);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    [InlineData(-BatchSize + 10)]
    public async Task CorruptLengthField_Resyncs_LiveAndAfterCrash(int delta)
    {
        await using (var log = await OpenWithMessagesAsync())
        {
            WriteInt32(LogPath, (30L * BatchSize) + 16, delta == int.MaxValue ? int.MaxValue : BatchSize + delta);
            Assert.Equal(AllBut(), ReadIds(log)); // the batch itself is intact: only its length field is wrong
            AssertCounters(log, batches: 0, messages: 0, repaired: 1);
        }

        DeleteIndexes();
        await using (var log = Open())
        {
            Assert.Equal(Messages, log.LogEnd);
            Assert.Equal(AllBut(), ReadIds(log));
            AssertCounters(log, batches: 0, messages: 0, repaired: 1);
        }
    }

    [Fact]
    public async Task TornTailTruncated_ThenNewBatchesThere_AreReadWithoutStaleResyncState()
    {
        await using (var log = await OpenWithMessagesAsync())
        {
        }

        // A torn write: 300 bytes that hold no valid batch after the last one.
        long tail = new FileInfo(LogPath).Length;
        var garbage = new byte[300];
        new Random(5).NextBytes(garbage);
        using (var handle = File.OpenHandle(LogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
        {
            RandomAccess.Write(handle, garbage, tail);
        }

        DeleteIndexes();
        await using var reopened = Open();
        Assert.Equal(tail, new FileInfo(LogPath).Length);
        for (int i = Messages; i < Messages + 10; i++)
        {
            await reopened.AppendAsync(Body(i, BodySize), 0).WithTimeout();
        }

        // The first new batch (where the torn bytes were) gets a damaged length: still read whole.
        WriteInt32(LogPath, tail + 16, int.MaxValue);
        Assert.Equal(Enumerable.Range(0, Messages + 10), ReadAll(reopened, 0, maxMessages: 1000).Select(r => BodyId(r.Body)));
        AssertCounters(reopened, batches: 0, messages: 0, repaired: 1);
    }

    [Fact]
    public async Task GarbageAcrossSeveralBatches_LosesOnlyThoseBatches()
    {
        await using (var log = await OpenWithMessagesAsync())
        {
            // Zero 250 bytes from the middle of batch 20 into batch 22.
            using (var handle = File.OpenHandle(LogPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete))
            {
                RandomAccess.Write(handle, new byte[250], (20L * BatchSize) + 30);
            }

            Assert.Equal(AllBut(20, 21, 22), ReadIds(log));
            AssertCounters(log, batches: 1, messages: 3, repaired: 0); // one damaged run of bytes
        }

        DeleteIndexes();
        await using (var log = Open())
        {
            Assert.Equal(Messages, log.LogEnd);
            Assert.Equal(AllBut(20, 21, 22), ReadIds(log));
            AssertCounters(log, batches: 1, messages: 3, repaired: 0); // one damaged run of bytes
        }
    }

    [Fact]
    public async Task EveryCorruptionIsLogged()
    {
        await using var log = await OpenWithMessagesAsync();
        Flip(LogPath, (10L * BatchSize) + 80);
        Flip(LogPath, (40L * BatchSize) + 80);
        Assert.Equal(AllBut(10, 40), ReadIds(log));
        Assert.True(_logger.Has(LogLevel.Error, $"byte {10 * BatchSize}"));
        Assert.True(_logger.Has(LogLevel.Error, $"byte {40 * BatchSize}"));
        AssertCounters(log, batches: 2, messages: 2, repaired: 0);
    }

    [Fact]
    public async Task CorruptionLogLines_AreRateLimited()
    {
        await using var log = await OpenWithMessagesAsync();
        for (int i = 1; i < Messages; i += 2)
        {
            Flip(LogPath, (i * (long)BatchSize) + 80);
        }

        Assert.Equal(Enumerable.Range(0, Messages).Where(i => i % 2 == 0), ReadIds(log));
        AssertCounters(log, batches: Messages / 2, messages: Messages / 2, repaired: 0);
        Assert.InRange(_logger.Entries.Count(e => e.Level == LogLevel.Error), 1, 20);
    }

    private static void AssertCounters(PartitionLog log, long batches, long messages, long repaired)
    {
        Assert.Equal(batches, log.CorruptBatchesSkipped);
        Assert.Equal(messages, log.CorruptMessagesSkipped);
        Assert.Equal(repaired, log.CorruptHeadersRepaired);
    }
}
