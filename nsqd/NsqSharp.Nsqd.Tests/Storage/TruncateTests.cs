using System.Buffers.Binary;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>TruncateToAsync: a follower dropping what its leader does not have. Batch-aligned, durable, across
/// segments, indexes and the epoch cache, and safe for concurrent readers.</summary>
public sealed class TruncateTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-truncate");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    public void Dispose() => _temp.Dispose();

    private PartitionLog Open(PartitionLogOptions? options = null) =>
        PartitionLog.Open(Dir, 0, options ?? new PartitionLogOptions { SegmentBytes = 1024, IndexIntervalBytes = 128 }, _logger);

    /// <summary>A body that names its offset and the round that wrote it, with content derived from both.</summary>
    private static byte[] Tagged(long offset, int round, int size = 40)
    {
        var body = new byte[size];
        BinaryPrimitives.WriteInt64LittleEndian(body, offset);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), round);
        for (int i = 12; i < size; i++)
        {
            body[i] = (byte)((offset * 7) + (round * 13) + i);
        }

        return body;
    }

    private static void AssertTagged(long offset, ReadOnlySpan<byte> body)
    {
        Assert.Equal(40, body.Length);
        Assert.Equal(offset, BinaryPrimitives.ReadInt64LittleEndian(body));
        int round = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        Assert.Equal(Tagged(offset, round), body.ToArray());
    }

    private static int TagRound(ReadOnlyMemory<byte> body) => BinaryPrimitives.ReadInt32LittleEndian(body.Span[8..]);

    /// <summary>Appends singles and MPUBs of three, sequentially, tagged with their offsets, until the log ends at <paramref name="end"/>.</summary>
    private static async Task FillAsync(PartitionLog log, long end, int round)
    {
        while (log.LogEnd < end)
        {
            long next = log.LogEnd;
            if (next % 5 == 2 && next + 3 <= end)
            {
                await log.AppendBatchAsync([Tagged(next, round), Tagged(next + 1, round), Tagged(next + 2, round)], 0).WithTimeout();
            }
            else
            {
                await log.AppendAsync(Tagged(next, round), 0).WithTimeout();
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task MidSegment_CutsAtTheBatchBoundary_AndIsDurable()
    {
        long fileLengthAt10;
        await using (var log = Open(new PartitionLogOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 128 }))
        {
            for (int i = 0; i < 10; i++)
            {
                await log.AppendAsync(Tagged(i, 1), 0).WithTimeout();
            }

            fileLengthAt10 = new FileInfo(SegmentPath(Dir, 0)).Length;
            await log.AppendBatchAsync([Tagged(10, 1), Tagged(11, 1), Tagged(12, 1), Tagged(13, 1), Tagged(14, 1)], 0).WithTimeout();
            for (int i = 15; i < 20; i++)
            {
                await log.AppendAsync(Tagged(i, 1), 0).WithTimeout();
            }

            // 12 lies inside the MPUB [10, 15): the cut is at the batch's start.
            long syncs = log.SyncCount;
            Assert.Equal(10, await log.TruncateToAsync(12));
            Assert.True(log.SyncCount > syncs);
            Assert.Equal(10, log.LogEnd);
            Assert.Equal(10, log.HighWatermark);
            Assert.Equal(fileLengthAt10, new FileInfo(SegmentPath(Dir, 0)).Length);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), ReadAll(log).Select(r => r.Offset));
            Assert.False(log.TryRead(10, LogBound.LogEnd, out _));

            // Appends continue from the new end.
            Assert.Equal(new AppendResult(10, 1), await log.AppendAsync(Tagged(10, 2), 0).WithTimeout());
        }

        await using var reopened = Open();
        Assert.Equal(11, reopened.LogEnd);
        List<LogRecord> records = ReadAll(reopened);
        Assert.Equal(11, records.Count);
        Assert.Equal(2, TagRound(records[10].Body));
        foreach (LogRecord r in records)
        {
            AssertTagged(r.Offset, r.Body.Span);
        }

        Assert.Equal(0, reopened.CorruptBatchesSkipped);
    }

    [Fact(Timeout = 60_000)]
    public async Task AcrossSegments_DeletesLaterSegmentsAndStaleIndexes()
    {
        long cutBase;
        await using (var log = Open())
        {
            await FillAsync(log, 120, round: 1);
            long[] bases = SegmentBases(Dir);
            Assert.True(bases.Length >= 5, $"{bases.Length} segments");
            cutBase = bases[2];
            Assert.True(File.Exists(SegmentPath(Dir, cutBase, ".index")));

            long end = await log.TruncateToAsync(cutBase + 3);
            Assert.InRange(end, cutBase + 1, cutBase + 3); // at or below, at a batch start
            Assert.Equal(bases[..3], SegmentBases(Dir));
            Assert.Equal(3, log.SegmentCount);
            Assert.False(File.Exists(SegmentPath(Dir, cutBase, ".index")));     // described the old length
            Assert.False(File.Exists(SegmentPath(Dir, bases[3], ".index")));
            Assert.True(File.Exists(SegmentPath(Dir, bases[1], ".index")));      // untouched
            Assert.Equal(Enumerable.Range(0, (int)end).Select(i => (long)i), ReadAll(log).Select(r => r.Offset));

            // The cut segment is the active one again; appends fill it and roll on as usual.
            await FillAsync(log, 100, round: 2);
            Assert.True(log.SegmentCount > 3);

            // Exactly at a segment's base: that segment is left empty (and active).
            long[] now = SegmentBases(Dir);
            Assert.Equal(now[3], await log.TruncateToAsync(now[3]));
            Assert.Equal(4, log.SegmentCount);
            Assert.Equal(0, new FileInfo(SegmentPath(Dir, now[3])).Length);
            Assert.Equal(new AppendResult(now[3], 1), await log.AppendAsync(Tagged(now[3], 3), 0).WithTimeout());
        }

        await using var reopened = Open();
        List<LogRecord> records = ReadAll(reopened);
        Assert.Equal(Enumerable.Range(0, (int)reopened.LogEnd).Select(i => (long)i), records.Select(r => r.Offset));
        foreach (LogRecord r in records)
        {
            AssertTagged(r.Offset, r.Body.Span);
        }

        Assert.Equal(0, reopened.CorruptBatchesSkipped);
        Assert.Equal(0, reopened.CorruptHeadersRepaired);
    }

    [Fact(Timeout = 30_000)]
    public async Task AtOrPastTheEnd_ChangesNothing_AtTheStart_EmptiesTheLog()
    {
        await using var log = Open();
        await FillAsync(log, 30, round: 1);
        long size = log.SizeBytes;
        Assert.Equal(30, await log.TruncateToAsync(30));
        Assert.Equal(30, await log.TruncateToAsync(1_000));
        Assert.Equal(size, log.SizeBytes);

        Assert.Equal(0, await log.TruncateToAsync(0));
        Assert.Equal(0, log.LogEnd);
        Assert.Equal(1, log.SegmentCount);
        Assert.Empty(ReadAll(log));
        Assert.Equal(new AppendResult(0, 1), await log.AppendAsync(Tagged(0, 2), 0).WithTimeout());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await log.TruncateToAsync(-1));
    }

    [Fact(Timeout = 30_000)]
    public async Task OwnedHighWatermark_ClampsDown_FailsTruncatedAppends_WakesNobody()
    {
        await using var log = Open(new PartitionLogOptions { HighWatermarkFollowsLogEnd = false });
        var committed = new List<Task<AppendResult>>();
        for (int i = 0; i < 5; i++)
        {
            committed.Add(log.AppendAsync(Tagged(i, 1), 0).AsTask());
        }

        await log.FlushAsync();
        log.AdvanceHighWatermark(5);
        await Task.WhenAll(committed).WaitAsync(TestTimeout);
        var five = log.AppendAsync(Tagged(5, 1), 0).AsTask();
        var six = log.AppendAsync(Tagged(6, 1), 0).AsTask();
        var seven = log.AppendAsync(Tagged(7, 1), 0).AsTask();
        await log.FlushAsync();
        Assert.Equal(8, log.LogEnd);

        int hwWakes = 0;
        int endWakes = 0;
        log.AddDataListener(LogBound.HighWatermark, () => Interlocked.Increment(ref hwWakes));
        log.AddDataListener(LogBound.LogEnd, () => Interlocked.Increment(ref endWakes));
        var hwWait = log.WaitForDataAsync(5, LogBound.HighWatermark, CancellationToken.None);
        var endWait = log.WaitForDataAsync(8, LogBound.LogEnd, CancellationToken.None);

        Assert.Equal(6, await log.TruncateToAsync(6));
        Assert.Equal(6, log.LogEnd);
        Assert.Equal(5, log.HighWatermark); // below the cut: unchanged
        await Assert.ThrowsAsync<AppendTruncatedException>(() => six.WithTimeout());
        await Assert.ThrowsAsync<AppendTruncatedException>(() => seven.WithTimeout());
        Assert.False(five.IsCompleted); // still waiting to be committed

        Assert.Equal(3, await log.TruncateToAsync(3));
        Assert.Equal(3, log.HighWatermark); // committed data removed: the HW comes down too
        await Assert.ThrowsAsync<AppendTruncatedException>(() => five.WithTimeout());
        Assert.Equal(0, Volatile.Read(ref hwWakes));
        Assert.Equal(0, Volatile.Read(ref endWakes));
        Assert.False(hwWait.IsCompleted);
        Assert.False(endWait.IsCompleted);
        Assert.True(_logger.Has(Microsoft.Extensions.Logging.LogLevel.Warning, "truncated to offset 3"));
    }

    [Fact(Timeout = 30_000)]
    public async Task TruncatesTheLeaderEpochCache()
    {
        await using (var log = Open())
        {
            log.LeaderEpoch = 1;
            await FillAsync(log, 5, round: 1);
            log.LeaderEpoch = 3;
            await FillAsync(log, 10, round: 1);
            log.LeaderEpoch = 4;
            await FillAsync(log, 15, round: 1);
            Assert.Equal([new EpochEntry(1, 0), new EpochEntry(3, 5), new EpochEntry(4, 10)], log.LeaderEpochs);

            Assert.Equal(7, await log.TruncateToAsync(9)); // inside the MPUB [7, 10) of epoch 3
            Assert.Equal([new EpochEntry(1, 0), new EpochEntry(3, 5)], log.LeaderEpochs);
            Assert.Equal(new EpochEndOffset(3, 7), log.EndOffsetForEpoch(3));
            Assert.Equal(5, await log.TruncateToAsync(5));
            Assert.Equal([new EpochEntry(1, 0)], log.LeaderEpochs);
            Assert.Equal(1, log.LatestEpoch);
        }

        await using var reopened = Open();
        Assert.Equal([new EpochEntry(1, 0)], reopened.LeaderEpochs);
        Assert.Equal(1, reopened.LeaderEpoch);
        reopened.LeaderEpoch = 5;
        await FillAsync(reopened, 7, round: 2);
        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(5, 5)], reopened.LeaderEpochs);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReaderHoldingTheSegment_WhileItIsCutAndRewritten_RetriesAndSeesNoGarbage()
    {
        await using var log = Open(new PartitionLogOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 200 });
        for (int i = 0; i < 20; i++)
        {
            await log.AppendAsync(Tagged(i, 1), 0).WithTimeout();
        }

        // Hold a reader with the segment leased and its walk set up (old size, old index) before it reads a byte.
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int calls = 0;
        log.BeforeSegmentWalk = () =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                held.Set();
                release.Wait(TestTimeout);
            }
        };
        var chunk = new List<LogRecord>();
        Task<int> reader = Task.Run(() => log.Read(5, 100, 1 << 20, LogBound.HighWatermark, chunk));
        Assert.True(held.Wait(TestTimeout));

        // Cut below it and rewrite the region with a different batch layout (MPUBs of three where singles were).
        Assert.Equal(3, await log.TruncateToAsync(3));
        for (long next = 3; next < 24; next += 3)
        {
            await log.AppendBatchAsync([Tagged(next, 2), Tagged(next + 1, 2), Tagged(next + 2, 2)], 0).WithTimeout();
        }

        release.Set();
        int n = await reader.WaitAsync(TestTimeout);
        Assert.Equal(19, n); // offsets 5..23 of the new data
        Assert.Equal(5, chunk[0].Offset);
        foreach (LogRecord r in chunk)
        {
            AssertTagged(r.Offset, r.Body.Span);
            Assert.Equal(2, TagRound(r.Body));
        }

        Assert.True(log.OvertakenReads >= 1);
        Assert.Equal(0, log.CorruptBatchesSkipped);
        Assert.Equal(0, log.CorruptHeadersRepaired);
    }

    [Fact(Timeout = 120_000)]
    public async Task ConcurrentReaders_SeeOldDataOrNothing_NeverGarbage()
    {
        // Relaxed sync keeps the appends cheap; truncations still fsync. Small segments: cuts cross segments.
        await using var log = Open(new PartitionLogOptions
        {
            SegmentBytes = 2048,
            IndexIntervalBytes = 200,
            SyncMode = SyncMode.Interval,
            SyncTimeout = TimeSpan.FromHours(1),
        });
        using var done = new CancellationTokenSource();
        long reads = 0;
        long records = 0;

        async Task ReaderAsync(int seed)
        {
            var random = new Random(seed);
            var chunk = new List<LogRecord>();
            while (!done.IsCancellationRequested)
            {
                await Task.Yield();
                long end = log.LogEnd;
                if (end == 0)
                {
                    continue;
                }

                long from = random.NextInt64(end);
                switch (random.Next(3))
                {
                    case 0:
                        chunk.Clear();
                        log.Read(from, 64, 1 << 20, LogBound.HighWatermark, chunk);
                        long previous = -1;
                        foreach (LogRecord r in chunk)
                        {
                            Assert.True(r.Offset > previous);
                            previous = r.Offset;
                            AssertTagged(r.Offset, r.Body.Span);
                        }

                        Interlocked.Add(ref records, chunk.Count);
                        break;
                    case 1:
                        if (log.TryRead(from, LogBound.HighWatermark, out LogRecord single))
                        {
                            Assert.Equal(from, single.Offset);
                            AssertTagged(from, single.Body.Span);
                            Interlocked.Increment(ref records);
                        }

                        break;
                    default:
                        using (RawBatches raw = log.ReadRawBatches(from, 4096, LogBound.LogEnd))
                        {
                            long expected = raw.FirstOffset;
                            ReadOnlySpan<byte> bytes = raw.Bytes.Span;
                            for (int p = 0; p < bytes.Length;)
                            {
                                var header = new BatchHeader(bytes[p..]);
                                Assert.Equal(expected, header.BaseOffset);
                                ReadOnlySpan<byte> batch = bytes.Slice(p, header.Length);
                                Assert.True(LogFormat.CrcMatches(batch));
                                var reader = new RecordReader(batch, header.Count);
                                while (reader.MoveNext(out int bodyStart, out int bodyLength, out _, out _, out _, out _, out _))
                                {
                                    AssertTagged(expected + reader.Index - 1, batch.Slice(bodyStart, bodyLength));
                                }

                                expected += header.Count;
                                p += header.Length;
                            }

                            Assert.Equal(raw.NextOffset, expected);
                        }

                        break;
                }

                Interlocked.Increment(ref reads);
            }
        }

        Task[] readers = [Task.Run(() => ReaderAsync(1)), Task.Run(() => ReaderAsync(2))];
        var random = new Random(42);
        try
        {
            for (int round = 1; round <= 40; round++)
            {
                await FillAsync(log, log.LogEnd + 40 + random.Next(40), round);
                long target = random.NextInt64(Math.Max(0, log.LogEnd - 70), log.LogEnd);
                long end = await log.TruncateToAsync(target);
                Assert.InRange(end, target - 2, target); // MPUBs are 3 long
                Assert.Equal(end, log.LogEnd);
                if (readers.Any(r => r.IsCompleted))
                {
                    break;
                }
            }

            // The readers have had a chance to overlap with the writer.
            long target2 = Interlocked.Read(ref reads) + 50;
            while (Interlocked.Read(ref reads) < target2 && !readers.Any(r => r.IsCompleted))
            {
                await Task.Delay(5);
            }
        }
        finally
        {
            await done.CancelAsync();
        }

        await Task.WhenAll(readers).WaitAsync(TestTimeout);
        output.WriteLine($"{Interlocked.Read(ref reads)} reads, {Interlocked.Read(ref records)} records, {log.OvertakenReads} overtaken by a truncation and retried");
        Assert.True(Interlocked.Read(ref records) > 0);
        Assert.Equal(0, log.CorruptBatchesSkipped);
        Assert.Equal(0, log.CorruptHeadersRepaired);
        List<LogRecord> all = ReadAll(log);
        Assert.Equal(Enumerable.Range(0, (int)log.LogEnd).Select(i => (long)i), all.Select(r => r.Offset));
        foreach (LogRecord r in all)
        {
            AssertTagged(r.Offset, r.Body.Span);
        }
    }
}
