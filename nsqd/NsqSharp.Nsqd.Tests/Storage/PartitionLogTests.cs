using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using NsqSharp.Common;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

public sealed class PartitionLogTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-storage");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    public void Dispose() => _temp.Dispose();

    private PartitionLog Open(PartitionLogOptions? options = null) => PartitionLog.Open(Dir, 0, options ?? new PartitionLogOptions(), _logger);

    private static PartitionLogOptions Small(long segmentBytes = 1024, int indexInterval = 256) => new()
    {
        SegmentBytes = segmentBytes,
        IndexIntervalBytes = indexInterval,
    };

    [Fact]
    public async Task AppendAndRead_RoundTrip()
    {
        await using var log = Open();
        Assert.Equal(0, log.StartOffset);
        Assert.Equal(0, log.LogEnd);
        Assert.Equal(0, log.HighWatermark);

        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        for (int i = 0; i < 10; i++)
        {
            var result = await log.AppendAsync(Body(i, 10 + i), 0).WithTimeout();
            Assert.Equal(new AppendResult(i, 1), result);
        }

        long after = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 1) * 1_000_000;
        Assert.Equal(10, log.LogEnd);
        Assert.Equal(10, log.HighWatermark);

        var records = ReadAll(log);
        Assert.Equal(10, records.Count);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(i, records[i].Offset);
            Assert.Equal(Body(i, 10 + i), records[i].Body.ToArray());
            Assert.Equal(0, records[i].DeliverAtMs);
            Assert.InRange(records[i].TimestampNs, before, after);
            Assert.True(records[i].Headers.IsEmpty);
        }

        // Mid-log read, and the empty read at the end.
        var some = new List<LogRecord>();
        Assert.Equal(3, log.Read(4, 3, 1 << 20, LogBound.HighWatermark, some));
        Assert.Equal([4L, 5L, 6L], some.Select(r => r.Offset));
        some.Clear();
        Assert.Equal(0, log.Read(10, 10, 1 << 20, LogBound.HighWatermark, some));
        Assert.Empty(some);

        Assert.True(log.TryRead(7, LogBound.HighWatermark, out var single));
        Assert.Equal(Body(7, 17), single.Body.ToArray());
        Assert.False(log.TryRead(10, LogBound.HighWatermark, out _));
        Assert.False(log.TryRead(-1, LogBound.HighWatermark, out _));
    }

    [Fact]
    public async Task Read_RespectsMaxBytesButReturnsAtLeastOne()
    {
        await using var log = Open();
        for (int i = 0; i < 5; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        var into = new List<LogRecord>();
        Assert.Equal(1, log.Read(0, 10, 10, LogBound.HighWatermark, into)); // a record bigger than maxBytes still comes back alone
        into.Clear();
        Assert.Equal(2, log.Read(0, 10, 250, LogBound.HighWatermark, into));
        into.Clear();
        Assert.Equal(5, log.Read(0, 10, 10_000, LogBound.HighWatermark, into));
        into.Clear();
        Assert.Equal(0, log.Read(0, 0, 10_000, LogBound.HighWatermark, into));
    }

    [Fact]
    public async Task AppendBatch_IsOneAtomicBatchWithContiguousOffsets()
    {
        await using var log = Open();
        await log.AppendAsync(Body(100), 0).WithTimeout();
        var bodies = new List<ReadOnlyMemory<byte>>();
        for (int i = 0; i < 50; i++)
        {
            bodies.Add(Body(i, 1 + i));
        }

        var result = await log.AppendBatchAsync(bodies, 0).WithTimeout();
        Assert.Equal(new AppendResult(1, 50), result);
        var next = await log.AppendAsync(Body(101), 0).WithTimeout();
        Assert.Equal(51, next.FirstOffset);

        var records = ReadAll(log);
        Assert.Equal(52, records.Count);
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(i + 1, records[i + 1].Offset);
            Assert.Equal(bodies[i].ToArray(), records[i + 1].Body.ToArray());
            Assert.Equal(records[1].TimestampNs, records[i + 1].TimestampNs);
        }

        // One batch on disk: the second batch header holds count 50 and base offset 1.
        byte[] file = File.ReadAllBytes(SegmentPath(Dir, 0));
        int firstLength = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(16));
        Assert.Equal(1, BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(firstLength)));
        Assert.Equal(50, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(firstLength + 28)));

        await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendBatchAsync(Array.Empty<ReadOnlyMemory<byte>>(), 0));
    }

    [Fact]
    public async Task BatchHeader_MatchesDocumentedLayout_AndCarriesLeaderEpoch()
    {
        await using (var log = Open())
        {
            log.LeaderEpoch = 7;
            await log.AppendAsync(new byte[] { 1, 2, 3 }, 1234).WithTimeout();
        }

        byte[] file = File.ReadAllBytes(SegmentPath(Dir, 0));
        Assert.Equal(48 + 24 + 3, file.Length);
        Assert.Equal(0, BinaryPrimitives.ReadInt64LittleEndian(file));           // base offset
        Assert.Equal(7, BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(8)));  // leader epoch
        Assert.Equal(file.Length, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(16)));
        Assert.Equal(Crc32C.Compute(file.AsSpan(24)), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));
        Assert.Equal((byte)'N', file[24]);
        Assert.Equal((byte)'Q', file[25]);
        Assert.Equal(1, file[26]);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(28)));
        Assert.Equal(27, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(48)));  // record length
        Assert.Equal(1234, BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(48 + 16)));
        Assert.Equal(new byte[] { 1, 2, 3 }, file[(48 + 24)..]);
    }

    [Fact]
    public async Task Segments_RollAndReadsCrossThem()
    {
        await using var log = Open(Small());
        for (int i = 0; i < 100; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        Assert.True(log.SegmentCount > 5, $"segments: {log.SegmentCount}");
        long[] bases = SegmentBases(Dir);
        Assert.Equal(log.SegmentCount, bases.Length);
        foreach (long b in bases[..^1])
        {
            Assert.True(File.Exists(SegmentPath(Dir, b, ".index")));
            Assert.True(File.Exists(SegmentPath(Dir, b, ".timeindex")));
            Assert.True(new FileInfo(SegmentPath(Dir, b)).Length <= 1024);
        }

        var records = ReadAll(log, 0, maxMessages: 7);
        Assert.Equal(100, records.Count);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(i, records[i].Offset);
            Assert.Equal(i, BodyId(records[i].Body));
        }

        for (int i = 0; i < 100; i += 13)
        {
            Assert.True(log.TryRead(i, LogBound.HighWatermark, out var r));
            Assert.Equal(i, BodyId(r.Body));
        }
    }

    [Fact]
    public async Task BatchBiggerThanSegment_GetsItsOwnSegment()
    {
        await using var log = Open(Small(segmentBytes: 512));
        await log.AppendAsync(Body(0, 10), 0).WithTimeout();
        await log.AppendAsync(Body(1, 2000), 0).WithTimeout();
        await log.AppendAsync(Body(2, 10), 0).WithTimeout();
        Assert.Equal(3, log.SegmentCount);
        var records = ReadAll(log);
        Assert.Equal([0, 1, 2], records.Select(r => BodyId(r.Body)));
        Assert.Equal(2000, records[1].Body.Length);
    }

    [Fact]
    public async Task Reopen_PreservesEverything()
    {
        var options = Small(2048, 128);
        var expected = new List<(long Offset, long Ts, long DeliverAt, byte[] Body)>();
        await using (var log = Open(options))
        {
            for (int i = 0; i < 60; i++)
            {
                if (i % 10 == 0)
                {
                    var batch = new List<ReadOnlyMemory<byte>> { Body(1000 + i, 50), Body(2000 + i, 60) };
                    await log.AppendBatchAsync(batch, 5000 + i).WithTimeout();
                }
                else
                {
                    await log.AppendAsync(Body(i, 70), i % 3 == 0 ? 99_000 + i : 0).WithTimeout();
                }
            }

            foreach (var r in ReadAll(log))
            {
                expected.Add((r.Offset, r.TimestampNs, r.DeliverAtMs, r.Body.ToArray()));
            }

            Assert.Equal(66, expected.Count);
        }

        await using (var log = Open(options))
        {
            Assert.Equal(0, log.StartOffset);
            Assert.Equal(66, log.LogEnd);
            Assert.Equal(66, log.HighWatermark);
            var records = ReadAll(log, 0, maxMessages: 5);
            Assert.Equal(expected.Count, records.Count);
            for (int i = 0; i < records.Count; i++)
            {
                Assert.Equal(expected[i].Offset, records[i].Offset);
                Assert.Equal(expected[i].Ts, records[i].TimestampNs);
                Assert.Equal(expected[i].DeliverAt, records[i].DeliverAtMs);
                Assert.Equal(expected[i].Body, records[i].Body.ToArray());
            }

            Assert.Equal(66, (await log.AppendAsync(Body(66), 0).WithTimeout()).FirstOffset);
        }

        await using (var log = Open(options))
        {
            Assert.Equal(67, log.LogEnd);
            Assert.Equal(67, ReadAll(log).Count);
        }

        Assert.DoesNotContain(_logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task DeferredDeliverAt_SurvivesRestart()
    {
        long due = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();
        await using (var log = Open())
        {
            await log.AppendAsync(Body(0), 0).WithTimeout();
            await log.AppendAsync(Body(1), due).WithTimeout();
            await log.AppendBatchAsync([Body(2), Body(3)], due + 1).WithTimeout();
        }

        await using (var log = Open())
        {
            var records = ReadAll(log);
            Assert.Equal([0L, due, due + 1, due + 1], records.Select(r => r.DeliverAtMs));
            Assert.True(log.TryRead(1, LogBound.HighWatermark, out var r));
            Assert.Equal(due, r.DeliverAtMs);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(47)]
    public async Task TornTail_IsTruncatedAndAppendsContinue(int cut)
    {
        await using (var log = Open())
        {
            for (int i = 0; i < 10; i++)
            {
                await log.AppendAsync(Body(i, 40), 0).WithTimeout();
            }
        }

        string path = SegmentPath(Dir, 0);
        long length = new FileInfo(path).Length;
        using (var fs = new FileStream(path, FileMode.Open))
        {
            fs.SetLength(length - cut);
        }

        await using (var log = Open())
        {
            Assert.Equal(9, log.LogEnd);
            Assert.Equal(9, log.HighWatermark);
            var records = ReadAll(log);
            Assert.Equal(Enumerable.Range(0, 9), records.Select(r => BodyId(r.Body)));
            Assert.Equal(9, (await log.AppendAsync(Body(99, 40), 0).WithTimeout()).FirstOffset);
            Assert.Equal(99, BodyId(ReadAll(log, 9)[0].Body));
        }

        Assert.True(_logger.Has(LogLevel.Warning, "truncating"));
        await using (var log = Open())
        {
            Assert.Equal(10, log.LogEnd);
        }
    }

    [Fact]
    public async Task CorruptLastBatch_IsTruncatedOnOpen()
    {
        await using (var log = Open())
        {
            for (int i = 0; i < 10; i++)
            {
                await log.AppendAsync(Body(i, 40), 0).WithTimeout();
            }
        }

        string path = SegmentPath(Dir, 0);
        byte[] data = File.ReadAllBytes(path);
        data[^3] ^= 0xFF; // inside the last record's body: CRC mismatch
        File.WriteAllBytes(path, data);

        await using (var log = Open())
        {
            Assert.Equal(9, log.LogEnd);
            Assert.Equal(9, ReadAll(log).Count);
            Assert.Equal(9, (await log.AppendAsync(Body(9, 40), 0).WithTimeout()).FirstOffset);
        }

        Assert.True(_logger.Has(LogLevel.Warning, "CRC mismatch"));
    }

    [Fact]
    public async Task UncleanShutdown_CorruptionInsideLastSegment_LosesOnlyThatBatch()
    {
        await using (var log = Open(Small(1 << 20, 64)))
        {
            for (int i = 0; i < 20; i++)
            {
                await log.AppendAsync(Body(i, 40), 0).WithTimeout();
            }
        }

        // Simulate a crash: no index files for the active segment, and a bad byte in batch #12.
        File.Delete(SegmentPath(Dir, 0, ".index"));
        File.Delete(SegmentPath(Dir, 0, ".timeindex"));
        string path = SegmentPath(Dir, 0);
        byte[] data = File.ReadAllBytes(path);
        int batch = 48 + 24 + 40;
        data[(12 * batch) + 60] ^= 0x01;
        File.WriteAllBytes(path, data);

        // The batches after #12 were fsynced (acknowledged): not a torn tail, so they are kept.
        await using var reopened = Open(Small(1 << 20, 64));
        Assert.Equal(20, reopened.LogEnd);
        Assert.Equal(20 * batch, new FileInfo(path).Length);
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 12), ReadAll(reopened).Select(r => BodyId(r.Body)));
        Assert.Equal(20, (await reopened.AppendAsync(Body(20, 40), 0).WithTimeout()).FirstOffset);
        Assert.Equal(1, reopened.CorruptBatchesSkipped);
        Assert.Equal(1, reopened.CorruptMessagesSkipped);
    }

    [Fact]
    public async Task CorruptOrMissingIndex_IsRebuilt()
    {
        var options = Small(1024, 100);
        await using (var log = Open(options))
        {
            for (int i = 0; i < 60; i++)
            {
                await log.AppendAsync(Body(i, 60), 0).WithTimeout();
            }
        }

        long[] bases = SegmentBases(Dir);
        Assert.True(bases.Length >= 3);
        File.WriteAllBytes(SegmentPath(Dir, bases[0], ".index"), new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44 });
        File.Delete(SegmentPath(Dir, bases[1], ".timeindex"));
        byte[] index = File.ReadAllBytes(SegmentPath(Dir, bases[^1], ".index"));
        index[^1] ^= 0xFF; // last segment: checksum broken → full rescan
        File.WriteAllBytes(SegmentPath(Dir, bases[^1], ".index"), index);

        await using (var log = Open(options))
        {
            Assert.Equal(60, log.LogEnd);
            var records = ReadAll(log, 0, maxMessages: 3);
            Assert.Equal(Enumerable.Range(0, 60), records.Select(r => BodyId(r.Body)));
            for (int i = 0; i < 60; i++)
            {
                Assert.True(log.TryRead(i, LogBound.HighWatermark, out var r));
                Assert.Equal(i, BodyId(r.Body));
            }
        }

        Assert.True(_logger.Has(LogLevel.Information, "index rebuilt"));
        Assert.True(File.Exists(SegmentPath(Dir, bases[1], ".timeindex")));
    }

    [Fact]
    public async Task CorruptBatchInOldSegment_IsLoggedAndSkipped()
    {
        var options = Small(2048, 100);
        int batch = 48 + 24 + 60;
        await using (var log = Open(options))
        {
            for (int i = 0; i < 60; i++)
            {
                await log.AppendAsync(Body(i, 60), 0).WithTimeout();
            }
        }

        long[] bases = SegmentBases(Dir);
        Assert.True(bases.Length >= 3);
        long perSegment = bases[1] - bases[0];

        // Segment 0: corrupt batch #5 and drop its index (found by the rescan on open).
        string p0 = SegmentPath(Dir, bases[0]);
        byte[] d0 = File.ReadAllBytes(p0);
        d0[(5 * batch) + 80] ^= 0x40;
        File.WriteAllBytes(p0, d0);
        File.Delete(SegmentPath(Dir, bases[0], ".index"));

        // Segment 1: corrupt batch #2 but keep its (valid) index: found only when read.
        string p1 = SegmentPath(Dir, bases[1]);
        byte[] d1 = File.ReadAllBytes(p1);
        d1[(2 * batch) + 80] ^= 0x40;
        File.WriteAllBytes(p1, d1);

        await using var reopened = Open(options);
        Assert.Equal(60, reopened.LogEnd);
        Assert.True(_logger.Has(LogLevel.Error, "CRC mismatch"));
        var records = ReadAll(reopened);
        var ids = records.Select(r => BodyId(r.Body)).ToList();
        Assert.Equal(records.Select(r => (int)r.Offset), ids); // every record returned is the right one

        // Exactly the two corrupt batches are lost.
        Assert.Equal(Enumerable.Range(0, 60).Where(i => i != 5 && i != perSegment + 2), ids);
        Assert.False(reopened.TryRead(perSegment + 2, LogBound.HighWatermark, out _));
        Assert.False(reopened.TryRead(5, LogBound.HighWatermark, out _));
        Assert.True(reopened.TryRead(7, LogBound.HighWatermark, out var r7));
        Assert.Equal(7, BodyId(r7.Body));
        Assert.Equal(2, reopened.CorruptBatchesSkipped);
        Assert.Equal(2, reopened.CorruptMessagesSkipped);
    }

    [Fact]
    public async Task ConcurrentAppenders_AllAckedOnceWithContiguousOffsets_AndGroupCommitBatches()
    {
        const int tasks = 8;
        const int perTask = 2000;
        await using var log = Open(new PartitionLogOptions { SegmentBytes = 256 * 1024 });
        var results = new AppendResult[tasks][];
        var workers = new Task[tasks];
        for (int t = 0; t < tasks; t++)
        {
            int task = t;
            results[task] = new AppendResult[perTask];
            workers[t] = Task.Run(async () =>
            {
                for (int i = 0; i < perTask; i++)
                {
                    results[task][i] = await log.AppendAsync(Body((task * perTask) + i, 20), 0);
                }
            });
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));

        var seen = new bool[tasks * perTask];
        var offsetToId = new int[tasks * perTask];
        for (int t = 0; t < tasks; t++)
        {
            long previous = -1;
            for (int i = 0; i < perTask; i++)
            {
                var r = results[t][i];
                Assert.Equal(1, r.Count);
                Assert.InRange(r.FirstOffset, 0, (tasks * perTask) - 1);
                Assert.False(seen[r.FirstOffset], $"offset {r.FirstOffset} acked twice");
                Assert.True(r.FirstOffset > previous, "one appender's offsets must increase");
                previous = r.FirstOffset;
                seen[r.FirstOffset] = true;
                offsetToId[r.FirstOffset] = (t * perTask) + i;
            }
        }

        Assert.Equal(tasks * perTask, log.LogEnd);
        Assert.Equal(tasks * perTask, log.HighWatermark);
        Assert.True(log.SyncCount < tasks * perTask, $"fsyncs {log.SyncCount} for {tasks * perTask} appends: no group commit");
        Assert.True(log.WriteCount < tasks * perTask);

        var records = ReadAll(log);
        Assert.Equal(tasks * perTask, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(i, records[i].Offset);
            Assert.Equal(offsetToId[i], BodyId(records[i].Body));
        }
    }

    [Fact]
    public async Task ConcurrentReader_SeesEveryOffsetOnceInOrder_WhileWritersAppendAndSegmentsRoll()
    {
        await using var log = Open(new PartitionLogOptions { SegmentBytes = 64 * 1024, IndexIntervalBytes = 512 });
        const int writers = 4;
        const int perWriter = 1500;
        const int total = writers * perWriter;
        var reader = Task.Run(async () =>
        {
            var seen = new List<LogRecord>();
            var chunk = new List<LogRecord>();
            long next = 0;
            while (next < total)
            {
                await log.WaitForDataAsync(next, LogBound.HighWatermark, CancellationToken.None);
                chunk.Clear();
                log.Read(next, 100, 64 * 1024, LogBound.HighWatermark, chunk);
                foreach (var r in chunk)
                {
                    Assert.Equal(next, r.Offset);
                    Assert.Equal(r.Body.Length, 16 + (BodyId(r.Body) % 100));
                    seen.Add(r);
                    next++;
                }
            }

            return seen;
        });

        var tasks = new Task[writers];
        for (int w = 0; w < writers; w++)
        {
            int writer = w;
            tasks[w] = Task.Run(async () =>
            {
                for (int i = 0; i < perWriter; i++)
                {
                    int id = (writer * perWriter) + i;
                    if (i % 10 == 0)
                    {
                        await log.AppendBatchAsync([Body(id, 16 + (id % 100))], 0);
                    }
                    else
                    {
                        await log.AppendAsync(Body(id, 16 + (id % 100)), 0);
                    }
                }
            });
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(120));
        var seenRecords = await reader.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.Equal(total, seenRecords.Count);
        Assert.Equal(total, seenRecords.Select(r => BodyId(r.Body)).Distinct().Count());
        Assert.True(log.SegmentCount > 3);
    }

    [Fact]
    public async Task ReadsRacingRetention_NeverFailOrReturnDeletedGarbage()
    {
        var options = new PartitionLogOptions { SegmentBytes = 2048, IndexIntervalBytes = 128, RetentionBytes = 4096 };
        await using var log = Open(options);
        for (int i = 0; i < 400; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        using var stop = new CancellationTokenSource();
        long reads = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var chunk = new List<LogRecord>();
            while (!stop.IsCancellationRequested)
            {
                for (long next = 0; next < 400;)
                {
                    chunk.Clear();
                    if (log.Read(next, 7, 1 << 20, LogBound.HighWatermark, chunk) == 0)
                    {
                        break;
                    }

                    foreach (var r in chunk)
                    {
                        Assert.Equal(r.Offset, BodyId(r.Body));
                    }

                    if (log.TryRead(next, LogBound.HighWatermark, out var single))
                    {
                        Assert.Equal(next, BodyId(single.Body));
                    }

                    next = chunk[^1].Offset + 1;
                    Interlocked.Increment(ref reads);
                }
            }
        })).ToArray();

        var deadline = DateTime.UtcNow + TestTimeout;
        for (long floor = 0; floor <= 400 && log.SegmentCount > 2; floor += 20)
        {
            // Let the readers make progress between deletions so the two really interleave.
            long target = Interlocked.Read(ref reads) + 3;
            while (Interlocked.Read(ref reads) < target && DateTime.UtcNow < deadline && !readers.Any(r => r.IsFaulted))
            {
                await Task.Delay(1);
            }

            log.EnforceRetention(floor, DateTimeOffset.UtcNow);
        }

        stop.Cancel();
        await Task.WhenAll(readers).WaitAsync(TestTimeout);
        Assert.True(Interlocked.Read(ref reads) > 20);
        Assert.True(log.StartOffset > 0);
        Assert.True(log.SizeBytes <= 4096 + 2048);
    }

    [Fact]
    public async Task CrashCopyTakenDuringAppends_RecoversEverythingAcked()
    {
        // A copy of the files taken while appends run is what a kill -9 leaves: no index for the active segment,
        // possibly half a batch at the end. Everything acked before the copy must come back.
        var options = new PartitionLogOptions { SegmentBytes = 32 * 1024, IndexIntervalBytes = 1024 };
        string copy = Path.Combine(_temp.Path, "copy");
        long ackedBeforeCopy;
        await using (var log = Open(options))
        {
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
            {
                for (int i = 0; !stop.IsCancellationRequested && i < 100_000; i++)
                {
                    var r = await log.AppendAsync(Body(i, 50 + (i % 200)), 0);
                    Assert.Equal(1, r.Count);
                }
            })).ToArray();

            await log.WaitForDataAsync(3000, LogBound.HighWatermark, CancellationToken.None).WithTimeout();
            ackedBeforeCopy = log.HighWatermark;
            Directory.CreateDirectory(copy);
            foreach (string file in Directory.GetFiles(Dir))
            {
                if (!file.EndsWith(".lock", StringComparison.Ordinal))
                {
                    File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
                }
            }

            stop.Cancel();
            await Task.WhenAll(writers).WaitAsync(TestTimeout);
        }

        await using var recovered = PartitionLog.Open(copy, 0, options, _logger);
        Assert.True(recovered.LogEnd >= ackedBeforeCopy, $"end {recovered.LogEnd} < acked {ackedBeforeCopy}");
        var records = ReadAll(recovered);
        Assert.Equal(recovered.LogEnd, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(i, records[i].Offset);
            Assert.Equal(50 + (BodyId(records[i].Body) % 200), records[i].Body.Length);
        }

        long next = recovered.LogEnd;
        Assert.Equal(next, (await recovered.AppendAsync(Body(1), 0).WithTimeout()).FirstOffset);
    }

    [Fact]
    public async Task EmptyBodies_AreStored()
    {
        await using (var log = Open())
        {
            await log.AppendAsync(ReadOnlyMemory<byte>.Empty, 0).WithTimeout();
            await log.AppendBatchAsync([ReadOnlyMemory<byte>.Empty, new byte[] { 9 }], 0).WithTimeout();
        }

        await using (var log = Open())
        {
            var records = ReadAll(log);
            Assert.Equal([0, 0, 1], records.Select(r => r.Body.Length));
            Assert.True(log.TryRead(0, LogBound.HighWatermark, out var r0));
            Assert.True(r0.Body.IsEmpty);
        }
    }

    [Fact]
    public async Task SmallPendingBound_AppliesBackpressureWithoutLosingAppends()
    {
        await using var log = Open(new PartitionLogOptions { MaxPendingAppendBytes = 500 });
        var tasks = new List<Task<AppendResult>>();
        for (int i = 0; i < 200; i++)
        {
            tasks.Add(log.AppendAsync(Body(i, 100), 0).AsTask());
        }

        var results = await Task.WhenAll(tasks).WaitAsync(TestTimeout);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i), results.Select(r => r.FirstOffset).Order());
        var records = ReadAll(log);
        Assert.Equal(200, records.Count);
    }

    [Fact]
    public async Task WaitForData_WakesOnAppend_AndCancels()
    {
        await using var log = Open();
        var wait = log.WaitForDataAsync(0, LogBound.HighWatermark, CancellationToken.None);
        Assert.False(wait.IsCompleted);
        var waitLater = log.WaitForDataAsync(1, LogBound.HighWatermark, CancellationToken.None);

        await log.AppendAsync(Body(0), 0).WithTimeout();
        await wait.WithTimeout();
        Assert.True(log.WaitForDataAsync(0, LogBound.HighWatermark, CancellationToken.None).IsCompleted);

        // Woken by every advance; the caller re-checks. Offset 1 is still not there.
        await waitLater.WithTimeout();
        var pending = log.WaitForDataAsync(1, LogBound.HighWatermark, CancellationToken.None);
        Assert.False(pending.IsCompleted);

        using var cts = new CancellationTokenSource();
        var cancellable = log.WaitForDataAsync(5, LogBound.HighWatermark, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancellable.WithTimeout());

        await log.AppendBatchAsync([Body(1), Body(2)], 0).WithTimeout();
        await pending.WithTimeout();
    }

    [Fact]
    public async Task WaitForData_FaultsOnDispose()
    {
        var log = Open();
        var wait = log.WaitForDataAsync(0, LogBound.HighWatermark, CancellationToken.None);
        await log.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.WithTimeout());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.WaitForDataAsync(0, LogBound.HighWatermark, CancellationToken.None));
    }

    [Fact]
    public async Task FindOffsetByTime_UsesTimeIndexAcrossSegments()
    {
        var options = Small(1024, 64);
        var marks = new List<(long Ms, long FirstOffset)>();
        await using (var log = Open(options))
        {
            for (int round = 0; round < 6; round++)
            {
                long ms = NextMillisecond();
                long first = -1;
                for (int i = 0; i < 7; i++)
                {
                    var r = await log.AppendAsync(Body((round * 7) + i, 50), 0).WithTimeout();
                    first = first < 0 ? r.FirstOffset : first;
                }

                marks.Add((ms, first));
            }

            Assert.True(log.SegmentCount > 2);
            AssertMarks(log);
        }

        await using (var log = Open(options))
        {
            AssertMarks(log);
        }

        void AssertMarks(PartitionLog log)
        {
            Assert.Equal(0, log.FindOffsetByTime(0, LogBound.HighWatermark));
            Assert.Equal(log.LogEnd, log.FindOffsetByTime(DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds(), LogBound.HighWatermark));
            foreach (var (ms, first) in marks)
            {
                long found = log.FindOffsetByTime(ms, LogBound.HighWatermark);
                Assert.Equal(first, found);
                Assert.True(log.TryRead(found, LogBound.HighWatermark, out var r));
                Assert.True(r.TimestampNs >= ms * 1_000_000);
                if (found > 0)
                {
                    Assert.True(log.TryRead(found - 1, LogBound.HighWatermark, out var before));
                    Assert.True(before.TimestampNs < ms * 1_000_000);
                }
            }
        }
    }

    /// <summary>Spins (bounded) until the wall clock enters a new millisecond; returns it.</summary>
    private static long NextMillisecond()
    {
        long start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var spin = new SpinWait();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() <= start && DateTime.UtcNow < deadline)
        {
            spin.SpinOnce();
        }

        return DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    }

    [Fact]
    public async Task RetentionByAge_NeverPassesTheAckFloor()
    {
        var options = new PartitionLogOptions { SegmentBytes = 1024, IndexIntervalBytes = 256, RetentionAge = TimeSpan.FromHours(1) };
        await using var log = Open(options);
        for (int i = 0; i < 50; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        int segments = log.SegmentCount;
        long[] bases = SegmentBases(Dir);
        Assert.Equal(0, log.EnforceRetention(minAckFloor: log.LogEnd, DateTimeOffset.UtcNow)); // nothing old yet
        var later = DateTimeOffset.UtcNow.AddHours(2);
        Assert.Equal(0, log.EnforceRetention(minAckFloor: 0, later));                            // nothing consumed

        // Floor inside segment #2: segments #0 and #1 go, #2 stays.
        long floor = bases[2] + 1;
        Assert.Equal(2, log.EnforceRetention(floor, later));
        Assert.Equal(bases[2], log.StartOffset);
        Assert.Equal(segments - 2, log.SegmentCount);
        Assert.False(File.Exists(SegmentPath(Dir, bases[0])));
        Assert.False(File.Exists(SegmentPath(Dir, bases[1], ".index")));
        Assert.False(log.TryRead(bases[1], LogBound.HighWatermark, out _));
        var fromStart = ReadAll(log, 0);
        Assert.Equal(bases[2], fromStart[0].Offset); // clamped up to StartOffset
        Assert.Equal(50 - bases[2], fromStart.Count);

        // Everything consumed: every closed segment goes; the active one is rolled so a later pass can delete it.
        Assert.Equal(segments - 3, log.EnforceRetention(log.LogEnd, later));
        Assert.Equal(1, log.SegmentCount);
        await WaitUntil(log, () => log.SegmentCount == 2);
        Assert.Equal(1, log.EnforceRetention(log.LogEnd, later));
        Assert.Equal(log.LogEnd, log.StartOffset);
        Assert.Equal(0, log.SizeBytes);
        Assert.Equal(50, (await log.AppendAsync(Body(50), 0).WithTimeout()).FirstOffset);
        Assert.Equal(0, log.HardLimitDeletedMessages);
    }

    private static async Task WaitUntil(PartitionLog log, Func<bool> condition)
    {
        for (int i = 0; i < 100 && !condition(); i++)
        {
            await log.FlushAsync();
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task RetentionBySize_IsSoftAndHardLimitCounts()
    {
        var options = new PartitionLogOptions { SegmentBytes = 1024, RetentionBytes = 3000, HardLimitBytes = 6000 };
        await using var log = Open(options);
        for (int i = 0; i < 80; i++)
        {
            await log.AppendAsync(Body(i, 100), 0).WithTimeout();
        }

        long size = log.SizeBytes;
        Assert.True(size > 6000);
        long[] bases = SegmentBases(Dir);

        // Floor 0: only the hard limit may delete, down to <= 6000 bytes, counting what was never consumed.
        int deleted = log.EnforceRetention(0, DateTimeOffset.UtcNow);
        Assert.True(deleted > 0);
        Assert.True(log.SizeBytes <= 6000);
        Assert.Equal(bases[deleted], log.StartOffset);
        Assert.Equal(log.StartOffset, log.HardLimitDeletedMessages);
        Assert.True(_logger.Has(LogLevel.Warning, "hard limit"));

        // Floor at the end: soft retention shrinks to <= 3000 bytes.
        long counted = log.HardLimitDeletedMessages;
        Assert.True(log.EnforceRetention(log.LogEnd, DateTimeOffset.UtcNow) > 0);
        Assert.True(log.SizeBytes <= 3000, $"size {log.SizeBytes}");
        Assert.Equal(counted, log.HardLimitDeletedMessages);

        // Soft deletes stop at the floor.
        var soft = new PartitionLogOptions { SegmentBytes = 1024, RetentionBytes = 100 };
        await log.DisposeAsync();
        await using var reopened = Open(soft);
        long start = reopened.StartOffset;
        long[] remaining = SegmentBases(Dir);
        Assert.Equal(0, reopened.EnforceRetention(remaining[1] - 1, DateTimeOffset.UtcNow));
        Assert.Equal(1, reopened.EnforceRetention(remaining[1], DateTimeOffset.UtcNow));
        Assert.Equal(remaining[1], reopened.StartOffset);
        Assert.True(reopened.StartOffset > start);
    }

    [Fact]
    public async Task RelaxedModes_AckAfterWriteAndSyncLess()
    {
        await using (var log = Open(new PartitionLogOptions { SyncMode = SyncMode.EveryN, SyncEvery = 50 }))
        {
            for (int i = 0; i < 200; i++)
            {
                await log.AppendAsync(Body(i), 0).WithTimeout();
            }

            Assert.Equal(200, log.HighWatermark);
            Assert.InRange(log.SyncCount, 1, 20);
            Assert.Equal(200, ReadAll(log).Count);
        }

        await using (var log = Open(new PartitionLogOptions { SyncMode = SyncMode.Interval, SyncTimeout = TimeSpan.FromHours(1) }))
        {
            long syncs = log.SyncCount;
            for (int i = 0; i < 50; i++)
            {
                await log.AppendAsync(Body(i), 0).WithTimeout();
            }

            Assert.Equal(syncs, log.SyncCount);
            Assert.Equal(250, log.HighWatermark);
            await log.FlushAsync();
            Assert.Equal(syncs + 1, log.SyncCount);
        }

        await using (var log = Open())
        {
            Assert.Equal(250, log.LogEnd);
        }
    }

    [Fact]
    public async Task Interval_SyncsWithinTimeout()
    {
        await using var log = Open(new PartitionLogOptions { SyncMode = SyncMode.Interval, SyncTimeout = TimeSpan.FromMilliseconds(20) });
        await log.AppendAsync(Body(0), 0).WithTimeout();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (log.SyncCount == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.True(log.SyncCount >= 1);
    }

    [Fact]
    public async Task Dispose_DrainsQueuedAppends_ThenRefuses()
    {
        var log = Open();
        var tasks = new List<Task<AppendResult>>();
        for (int i = 0; i < 100; i++)
        {
            tasks.Add(log.AppendAsync(Body(i), 0).AsTask());
        }

        await log.DisposeAsync();
        await log.DisposeAsync(); // idempotent
        var results = await Task.WhenAll(tasks).WaitAsync(TestTimeout);
        Assert.Equal(100, results.Select(r => r.FirstOffset).Distinct().Count());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.AppendAsync(Body(0), 0));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.FlushAsync());
        Assert.Throws<ObjectDisposedException>(() => log.Read(0, 1, 1, LogBound.HighWatermark, []));

        await using var reopened = Open();
        Assert.Equal(100, reopened.LogEnd);
    }

    [Fact]
    public async Task SecondOpenOfSameDirectory_Fails_UntilTheFirstIsClosed()
    {
        var log = Open();
        Assert.Throws<IOException>(() => Open()); // within the process; other processes: DataDirectoryLock
        Assert.Throws<IOException>(() => PartitionLog.Open(Path.Combine(Dir, "..", "0"), 0, new PartitionLogOptions(), _logger));
        await log.DisposeAsync();
        await using var again = Open();
    }

    [Fact]
    public async Task WriteFailure_MarksUnhealthyAndFailsAppends()
    {
        var handles = new SegmentHandleCache(8);
        await using var log = Open(new PartitionLogOptions { HandleCache = handles });
        await log.AppendAsync(Body(0), 0).WithTimeout();
        Assert.Null(log.Health);
        File.Delete(SegmentPath(Dir, 0)); // the segment vanishes while its handle is closed: the reopen fails
        handles.CloseIdle();

        await Assert.ThrowsAsync<IOException>(async () => await log.AppendAsync(Body(1), 0).WithTimeout());
        Assert.NotNull(log.Health);
        await Assert.ThrowsAsync<IOException>(async () => await log.AppendAsync(Body(2), 0).WithTimeout());
        Assert.Equal(1, log.LogEnd);
        Assert.Equal(1, log.HighWatermark);
    }

    [Fact]
    public async Task DeleteFiles_RemovesDirectory()
    {
        await using (var log = Open())
        {
            await log.AppendAsync(Body(0), 0).WithTimeout();
        }

        PartitionLog.DeleteFiles(Dir);
        Assert.False(Directory.Exists(Dir));
        PartitionLog.DeleteFiles(Dir); // no-op
    }
}
