using System.Buffers.Binary;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Raw batch reads (a leader serving a fetch) and verbatim appends (a follower), on real files.</summary>
public sealed class ReplicationPrimitivesTests : IDisposable
{
    private readonly TempDirectory _temp = new("nsqsharp-raw");
    private readonly ListLogger _logger = new();

    public void Dispose() => _temp.Dispose();

    private string Dir(string name) => Path.Combine(_temp.Path, name, "0");

    private PartitionLog Open(string name, long segmentBytes = 1024, bool hwFollows = true) =>
        PartitionLog.Open(Dir(name), 0, new PartitionLogOptions
        {
            SegmentBytes = segmentBytes,
            IndexIntervalBytes = 128,
            HighWatermarkFollowsLogEnd = hwFollows,
        }, _logger);

    /// <summary>Singles, with an MPUB of three wherever the next offset is 2 mod 5.</summary>
    private static async Task FillAsync(PartitionLog log, long end)
    {
        while (log.LogEnd < end)
        {
            long next = log.LogEnd;
            if (next % 5 == 2)
            {
                await log.AppendBatchAsync([Body((int)next, 40), Body((int)next + 1, 40), Body((int)next + 2, 40)], 0).WithTimeout();
            }
            else
            {
                await log.AppendAsync(Body((int)next, 40), 0).WithTimeout();
            }
        }
    }

    /// <summary>Copies the leader into the follower the way a fetcher would, in fetches of at most <paramref name="maxBytes"/>.</summary>
    private static async Task<int> ReplicateAsync(PartitionLog leader, PartitionLog follower, int maxBytes)
    {
        int fetches = 0;
        while (follower.LogEnd < leader.LogEnd)
        {
            using RawBatches raw = leader.ReadRawBatches(follower.LogEnd, maxBytes, LogBound.LogEnd);
            Assert.False(raw.IsEmpty);
            Assert.Equal(follower.LogEnd, raw.FirstOffset);
            AppendResult appended = await follower.AppendRawBatchesAsync(raw.Bytes).WithTimeout();
            Assert.Equal(new AppendResult(raw.FirstOffset, (int)(raw.NextOffset - raw.FirstOffset)), appended);
            fetches++;
        }

        return fetches;
    }

    [Fact(Timeout = 30_000)]
    public async Task ReadRawBatches_ReturnsWholeBatchesAsStored()
    {
        await using var leader = Open("leader", segmentBytes: 1 << 20);
        leader.LeaderEpoch = 3;
        await FillAsync(leader, 20);
        byte[] file = File.ReadAllBytes(SegmentPath(Dir("leader"), 0));

        // Offset 13 lies in the MPUB [12, 15): the read starts at that batch, byte for byte the file's.
        using (RawBatches raw = leader.ReadRawBatches(13, 1 << 20, LogBound.LogEnd))
        {
            Assert.Equal(12, raw.FirstOffset);
            Assert.Equal(20, raw.NextOffset);
            int position = FindBatch(file, 12);
            Assert.Equal(file.AsSpan(position).ToArray(), raw.Bytes.ToArray());
            Assert.Equal(12, BinaryPrimitives.ReadInt64LittleEndian(raw.Bytes.Span));
            Assert.Equal(3, BinaryPrimitives.ReadInt64LittleEndian(raw.Bytes.Span[8..]));
        }

        // maxBytes: whole batches only, but at least one even when it alone is bigger.
        using (RawBatches one = leader.ReadRawBatches(12, 10, LogBound.LogEnd))
        {
            Assert.Equal(1, one.BatchCount);
            Assert.Equal((12L, 15L), (one.FirstOffset, one.NextOffset));
        }

        using (RawBatches two = leader.ReadRawBatches(0, 230, LogBound.LogEnd))
        {
            Assert.Equal(2, two.BatchCount); // two singles of 112 bytes fit, the MPUB after them would not
            Assert.Equal(224, two.Bytes.Length);
        }

        using (RawBatches end = leader.ReadRawBatches(20, 1 << 20, LogBound.LogEnd))
        {
            Assert.True(end.IsEmpty);
            Assert.Equal(20, end.FirstOffset);
            Assert.True(end.Bytes.IsEmpty);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => leader.ReadRawBatches(0, 0, LogBound.LogEnd));
        RawBatches disposed = leader.ReadRawBatches(0, 100, LogBound.LogEnd);
        disposed.Dispose();
        disposed.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => disposed.Bytes);
    }

    [Fact(Timeout = 30_000)]
    public async Task ReadRawBatches_StaysBelowTheBound_AndWithinOneSegment()
    {
        await using var leader = Open("leader", segmentBytes: 2048, hwFollows: false); // segment 0 holds [0, 21)
        var appends = new List<Task<AppendResult>>();
        for (long next = 0; next < 30; next += next % 5 == 2 ? 3 : 1)
        {
            appends.Add(next % 5 == 2
                ? leader.AppendBatchAsync([Body((int)next, 40), Body((int)next + 1, 40), Body((int)next + 2, 40)], 0).AsTask()
                : leader.AppendAsync(Body((int)next, 40), 0).AsTask());
        }

        await leader.FlushAsync();
        Assert.Equal(30, leader.LogEnd);
        leader.AdvanceHighWatermark(13); // mid-MPUB [12, 15)
        using (RawBatches committed = leader.ReadRawBatches(0, 1 << 20, LogBound.HighWatermark))
        {
            Assert.Equal(12, committed.NextOffset); // the MPUB is not entirely committed
        }

        using (RawBatches nothing = leader.ReadRawBatches(12, 1 << 20, LogBound.HighWatermark))
        {
            Assert.True(nothing.IsEmpty);
        }

        long secondBase = leader.Segments[1].BaseOffset;
        using (RawBatches first = leader.ReadRawBatches(0, 1 << 20, LogBound.LogEnd))
        {
            Assert.Equal(secondBase, first.NextOffset); // one segment per call
        }

        leader.AdvanceHighWatermark(30);
        await Task.WhenAll(appends).WaitAsync(TestTimeout);
    }

    [Fact(Timeout = 60_000)]
    public async Task Follower_CopiesTheLeaderVerbatim_AcrossSegmentsAndEpochs()
    {
        await using (var leader = Open("leader"))
        await using (var follower = Open("follower"))
        {
            leader.LeaderEpoch = 2;
            await FillAsync(leader, 40);
            leader.LeaderEpoch = 5;
            await FillAsync(leader, 90);
            int fetches = await ReplicateAsync(leader, follower, maxBytes: 700);
            Assert.True(fetches > leader.SegmentCount, $"{fetches} fetches");

            Assert.Equal(leader.LogEnd, follower.LogEnd);
            Assert.Equal(leader.LeaderEpochs, follower.LeaderEpochs);
            Assert.Equal([new EpochEntry(2, 0), new EpochEntry(5, 40)], follower.LeaderEpochs);
            Assert.Equal(5, follower.LatestEpoch);
            AssertSameRecords(ReadAll(leader), ReadAll(follower));
        }

        // Same batches, same roll rule: the segment files are identical.
        Assert.Equal(SegmentBases(Dir("leader")), SegmentBases(Dir("follower")));
        foreach (long b in SegmentBases(Dir("leader")))
        {
            Assert.Equal(File.ReadAllBytes(SegmentPath(Dir("leader"), b)), File.ReadAllBytes(SegmentPath(Dir("follower"), b)));
        }

        await using var reopened = Open("follower");
        Assert.Equal(90, reopened.LogEnd);
        Assert.Equal([new EpochEntry(2, 0), new EpochEntry(5, 40)], reopened.LeaderEpochs);
        Assert.Equal(0, reopened.CorruptBatchesSkipped);
    }

    private static void AssertSameRecords(List<LogRecord> expected, List<LogRecord> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Offset, actual[i].Offset);
            Assert.Equal(expected[i].TimestampNs, actual[i].TimestampNs);
            Assert.Equal(expected[i].Body.ToArray(), actual[i].Body.ToArray());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AppendRaw_RejectsDamagedOrDiscontinuousBatches_AndStaysHealthy()
    {
        await using var leader = Open("leader", segmentBytes: 1 << 20);
        await using var follower = Open("follower");
        await FillAsync(leader, 10);
        byte[] all;
        using (RawBatches raw = leader.ReadRawBatches(0, 1 << 20, LogBound.LogEnd))
        {
            all = raw.Bytes.ToArray();
        }

        int second = FindBatch(all, 1);
        byte[] crc = (byte[])all.Clone();
        crc[second + 60] ^= 1; // a body byte of the second batch
        var e = await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(crc));
        Assert.Contains("CRC mismatch", e.Message, StringComparison.Ordinal);
        Assert.Contains($"byte {second}", e.Message, StringComparison.Ordinal);

        byte[] magic = (byte[])all.Clone();
        magic[24] = (byte)'X';
        Assert.Contains("magic", (await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(magic))).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(all.AsMemory(0, all.Length - 1)));
        await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(all.AsMemory(0, 30)));
        await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(ReadOnlyMemory<byte>.Empty));

        // Batches 0 and 2 without 1 between them.
        int third = FindBatch(all, 2);
        byte[] gap = [.. all.AsSpan(0, second), .. all.AsSpan(third)];
        Assert.Contains("does not continue", (await Assert.ThrowsAsync<InvalidDataException>(async () => await follower.AppendRawBatchesAsync(gap))).Message, StringComparison.Ordinal);

        Assert.Equal(0, follower.LogEnd);
        Assert.Null(follower.Health);
        Assert.Equal(new AppendResult(0, 10), await follower.AppendRawBatchesAsync(all).WithTimeout());
    }

    [Fact(Timeout = 30_000)]
    public async Task AppendRaw_MustContinueTheLogEnd_AndNotGoBackInEpochs()
    {
        await using var leader = Open("leader");
        await using var other = Open("other");
        await using var follower = Open("follower");
        leader.LeaderEpoch = 5;
        await FillAsync(leader, 10);
        other.LeaderEpoch = 2;
        await FillAsync(other, 20);

        using (RawBatches ahead = leader.ReadRawBatches(3, 1 << 20, LogBound.LogEnd))
        {
            var e = await Assert.ThrowsAsync<LogContinuityException>(async () => await follower.AppendRawBatchesAsync(ahead.Bytes));
            Assert.Equal(0, e.ExpectedOffset);
            Assert.Equal(ahead.FirstOffset, e.ActualOffset);
        }

        await ReplicateAsync(leader, follower, 1 << 20);
        Assert.Equal(10, follower.LogEnd);

        // Right offset, older epoch: the follower must truncate first.
        using (RawBatches stale = other.ReadRawBatches(10, 1 << 20, LogBound.LogEnd))
        {
            Assert.Equal(10, stale.FirstOffset);
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await follower.AppendRawBatchesAsync(stale.Bytes));
        }

        // Its own appends too: the leader epoch it stamps must not be below what the log holds.
        Assert.Equal(0, follower.LeaderEpoch);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await follower.AppendAsync(Body(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => follower.LeaderEpoch = 4);
        follower.LeaderEpoch = 6; // it becomes the leader
        Assert.Equal(new AppendResult(10, 1), await follower.AppendAsync(Body(10), 0).WithTimeout());
        Assert.Equal([new EpochEntry(5, 0), new EpochEntry(6, 10)], follower.LeaderEpochs);
        Assert.Null(follower.Health);
    }

    [Fact(Timeout = 30_000)]
    public async Task AppendRaw_CompletesOnTheLogEnd_WhenTheHighWatermarkIsOwned()
    {
        await using var leader = Open("leader");
        await using var follower = Open("follower", hwFollows: false);
        await FillAsync(leader, 12);
        await ReplicateAsync(leader, follower, 1 << 20); // would hang if raw appends waited for the HW
        Assert.Equal(12, follower.LogEnd);
        Assert.Equal(0, follower.HighWatermark);
        Assert.Empty(ReadAll(follower));
        Assert.Equal(12, follower.AdvanceHighWatermark(leader.HighWatermark));
        Assert.Equal(12, ReadAll(follower).Count);
    }

    /// <summary>Position of the batch with base offset <paramref name="baseOffset"/> in a run of batches.</summary>
    private static int FindBatch(ReadOnlySpan<byte> bytes, long baseOffset)
    {
        for (int p = 0; p < bytes.Length; p += BinaryPrimitives.ReadInt32LittleEndian(bytes[(p + 16)..]))
        {
            long b = BinaryPrimitives.ReadInt64LittleEndian(bytes[p..]);
            if (b == baseOffset)
            {
                return p;
            }
        }

        throw new InvalidOperationException($"no batch at {baseOffset}");
    }

    [Fact(Timeout = 30_000)]
    public async Task ResetTo_EmptiesTheLog_RestartsItAtTheLeadersStart_AndTakesTheLeadersBatchesFromThere()
    {
        // The leader's log starts at 40 (as if retention deleted below it); the follower holds 0..12 only.
        await using var leader = Open("leader-reset");
        await leader.ResetToAsync(40).AsTask().WithTimeout();
        await FillAsync(leader, 60);
        Assert.Equal(40, leader.StartOffset);

        await using (var own = Open("follower-reset"))
        {
            await FillAsync(own, 12);
        }

        await using (var follower = Open("follower-reset", hwFollows: false))
        {
            using (RawBatches early = leader.ReadRawBatches(40, 1 << 20, LogBound.LogEnd))
            {
                await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await follower.ResetToAsync(12));
                await Assert.ThrowsAsync<LogContinuityException>(async () => await follower.AppendRawBatchesAsync(early.Bytes));
            }

            await follower.ResetToAsync(40).AsTask().WithTimeout();
            Assert.Equal(40, follower.StartOffset);
            Assert.Equal(40, follower.LogEnd);
            Assert.Equal(40, follower.HighWatermark);
            Assert.False(follower.TryRead(5, LogBound.LogEnd, out _));
            while (follower.LogEnd < leader.LogEnd)
            {
                using RawBatches raw = leader.ReadRawBatches(follower.LogEnd, 1 << 20, LogBound.LogEnd);
                await follower.AppendRawBatchesAsync(raw.Bytes).WithTimeout();
            }

            Assert.Equal(60, follower.LogEnd);
        }

        // Durable: reopened, it starts at 40 with the leader's records, and nothing of its old log is left.
        await using (var reopened = Open("follower-reset", hwFollows: false))
        {
            Assert.Equal(40, reopened.StartOffset);
            Assert.Equal(60, reopened.LogEnd);
            var records = new List<LogRecord>();
            while (reopened.Read(records.Count == 0 ? 40 : records[^1].Offset + 1, 100, 1 << 20, LogBound.LogEnd, records) > 0)
            {
            }

            Assert.Equal(Enumerable.Range(40, 20).Select(i => (long)i), records.Select(r => r.Offset));
            Assert.All(Directory.GetFiles(Dir("follower-reset"), "*.log"), f => Assert.True(long.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture) >= 40, f));
        }
    }
}
