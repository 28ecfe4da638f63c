using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// Snapshot + ops at every crash point: a torn ops tail, a snapshot written but the ops file not yet emptied (its ops
/// must not be applied a second time: Deliver adds an attempt), emptied, appended, a snapshot rename lost after newer
/// ops were written, and the old v1 snapshot format. Each restore must give the last persisted state, or an earlier
/// true one, never anything else.
/// </summary>
public sealed class CursorCrashPointTests
{
    [Fact(Timeout = 60_000)]
    public Task ReplayStopsAtATornTailAndAppliesWholeBlocksOnly()
    {
        using var dir = new TempDirectory("crash");
        var rng = new Random(11);
        var files = new CursorFiles(Path.Combine(dir.Path, "c.cursor"));
        var s0 = RandomState(rng, 500);
        files.WriteSnapshot(s0);
        var first = RandomOps(rng, s0, 40_000); // three blocks: 16,384 + 16,384 + 7,232
        var second = RandomOps(rng, Applied(s0, first), 100);
        files.AppendOps(first);
        files.AppendOps(second);
        var fileLength = new FileInfo(files.OpsPath).Length;
        Assert.Equal(CursorOpLog.SizeOf(first.Length) + CursorOpLog.SizeOf(second.Length), fileLength);

        var wholeState = Applied(Applied(s0, first), second);
        AssertLoads(files, wholeState, expectedOps: 40_100);

        // Cut anywhere: only the blocks before the cut count.
        var blockEnds = new List<(long End, int Ops)>();
        long end = 0;
        var total = 0;
        foreach (var size in new[] { 16_384, 16_384, 7_232, 100 })
        {
            end += CursorOpLog.HeaderSize + ((long)size * CursorOpLog.RecordSize);
            total += size;
            blockEnds.Add((end, total));
        }

        var all = first.Concat(second).ToArray();
        var original = File.ReadAllBytes(files.OpsPath);
        foreach (var cut in new long[] { 1, 5, 19, 20, 21, 24, 25, 393_236, 393_237, blockEnds[1].End - 1, blockEnds[1].End, blockEnds[2].End + 7, fileLength - 1 })
        {
            File.WriteAllBytes(files.OpsPath, original.AsSpan(0, (int)cut).ToArray());
            var ops = blockEnds.LastOrDefault(b => b.End <= cut).Ops;
            AssertLoads(new CursorFiles(files.SnapshotPath), Applied(s0, all.AsSpan(0, ops).ToArray()), ops, $"cut at {cut}");
        }

        // Damage inside the second block (not a tail): replay stops before it, an earlier state.
        var damaged = (byte[])original.Clone();
        damaged[blockEnds[0].End + 1000] ^= 0x40;
        File.WriteAllBytes(files.OpsPath, damaged);
        AssertLoads(new CursorFiles(files.SnapshotPath), Applied(s0, first.AsSpan(0, 16_384).ToArray()), 16_384, "damaged block");
        return Task.CompletedTask;
    }

    [Fact(Timeout = 60_000)]
    public Task ASnapshotWrittenBeforeTheOpsFileWasEmptiedIgnoresTheOpsItCovers()
    {
        using var dir = new TempDirectory("crash");
        var rng = new Random(12);
        var files = new CursorFiles(Path.Combine(dir.Path, "c.cursor"));
        var s0 = RandomState(rng, 300);
        files.WriteSnapshot(s0);
        var deliveries = Deliveries(s0);
        files.AppendOps(deliveries);
        var s1 = Applied(s0, deliveries);
        Assert.True(s1.Partitions.Sum(p => p.Pending.Values.Sum(e => e.Attempts)) > s0.Partitions.Sum(p => p.Pending.Values.Sum(e => e.Attempts)));

        // Crash right after the new snapshot's rename: the ops file still holds the (covered) Deliver ops.
        files.OnStep = step =>
        {
            if (step == "snapshot-written")
            {
                throw new IOException("crash");
            }
        };
        Assert.Throws<IOException>(() => files.WriteSnapshot(s1));
        Assert.True(new FileInfo(files.OpsPath).Length > 0);

        var reopened = new CursorFiles(files.SnapshotPath);
        var loaded = reopened.Load();
        Assert.Equal(0, loaded.Ops.AppliedOps);
        Assert.Equal(deliveries.Length, loaded.Ops.OtherGenerationOps);
        CursorOpStreamTests.AssertSame(s1, loaded.State!, "no Deliver applied twice");
        reopened.AcceptLoaded(loaded);
        Assert.False(reopened.CanAppend); // ops of another generation are in the file: a snapshot comes first

        // Going on from there: a new generation, then appends, then a clean load.
        reopened.WriteSnapshot(loaded.State!);
        Assert.Equal(3UL, reopened.Generation); // 1, then 2 (the crashed one), now 3
        var more = RandomOps(rng, s1, 500);
        reopened.AppendOps(more);
        AssertLoads(new CursorFiles(files.SnapshotPath), Applied(s1, more), 500);
        return Task.CompletedTask;
    }

    [Fact(Timeout = 60_000)]
    public Task ALostSnapshotRenameWithNewerOpsGivesTheOlderState()
    {
        using var dir = new TempDirectory("crash");
        var rng = new Random(13);
        var files = new CursorFiles(Path.Combine(dir.Path, "c.cursor"));
        var s0 = RandomState(rng, 200);
        files.WriteSnapshot(s0);
        var older = File.ReadAllBytes(files.SnapshotPath);
        var b1 = RandomOps(rng, s0, 300);
        files.AppendOps(b1);
        var s1 = Applied(s0, b1);
        files.WriteSnapshot(s1);
        files.AppendOps(RandomOps(rng, s1, 300));

        // The directory lost the second snapshot's rename but kept the later ops: they belong to a snapshot that is
        // not there, so none apply; the result is the first snapshot, an earlier true state.
        File.WriteAllBytes(files.SnapshotPath, older);
        AssertLoads(new CursorFiles(files.SnapshotPath), s0, 0);
        return Task.CompletedTask;
    }

    [Fact(Timeout = 60_000)]
    public Task AFreshChannelNeverReusesTheGenerationOfADeletedNamesakesOps()
    {
        using var dir = new TempDirectory("crash");
        var rng = new Random(14);
        var path = Path.Combine(dir.Path, "c.cursor");
        var old = new CursorFiles(path);
        old.WriteSnapshot(RandomState(rng, 50));
        old.AppendOps(RandomOps(rng, RandomState(rng, 50), 100));
        File.Delete(path); // deleted, but the ops file survived (crash in the middle of a delete)

        var stale = File.ReadAllBytes(old.OpsPath);
        var fresh = new CursorFiles(path);
        var empty = new CursorState();
        empty.Partition(0).NextRead = 7;
        fresh.WriteSnapshot(empty);
        Assert.True(fresh.Generation > old.Generation);
        File.WriteAllBytes(fresh.OpsPath, stale); // the emptying of the ops file never reached the disk
        AssertLoads(new CursorFiles(path), empty, 0);
        return Task.CompletedTask;
    }

    [Fact(Timeout = 120_000)]
    public async Task EveryCrashPointOfABrokerCheckpointRestoresTheLastPersistedState()
    {
        using var dir = new TempDirectory("crash");
        using var images = new TempDirectory("crash-images");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var crashes = new List<(string Step, string Path, CursorState Expected, CursorState? Previous)>();
        CursorState? lastPersisted = null;
        await using (var broker = Start(dir.Path, time))
        {
            var topic = broker.GetOrCreateTopic("t", 2);
            var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
            var checkpointer = channel.Checkpointer!;
            checkpointer.Files.OnStep = step =>
            {
                // "Crash" here: the data directory as it is at this instant is what a restart would find.
                var image = Path.Combine(images.Path, $"{crashes.Count:D2}-{step}");
                CopyDirectory(dir.Path, image);
                var expected = checkpointer.StateUnsafe.Clone();
                crashes.Add((step, image, expected, lastPersisted));
                if (step != "snapshot-written")
                {
                    lastPersisted = expected;
                }
            };

            var consumer = new TestConsumer(1);
            Assert.Null(channel.AddClient(consumer, 0));
            var bodies = Enumerable.Range(0, 10).Select(_ => (ReadOnlyMemory<byte>)new byte[32]).ToList();
            for (var i = 0; i < 4; i++)
            {
                await topic.PublishBatchAsync(bodies, 0);
            }

            await topic.PublishAsync(new byte[8], deferMs: 60_000); // a DPUB read ahead into the deferred heap
            var held = await TakeAsync(channel, consumer, 12);
            channel.CheckpointIfDirty(); // a new channel: snapshot first

            Assert.Null(channel.Finish(consumer, held[0]));
            Assert.Null(channel.Finish(consumer, held[1]));
            Assert.Null(channel.Requeue(consumer, held[2], 0));
            Assert.Null(channel.Requeue(consumer, held[3], 30_000));
            held.AddRange(await TakeAsync(channel, consumer, 3));
            channel.CheckpointIfDirty(); // appended

            Assert.Null(channel.Finish(consumer, held[4]));
            held.AddRange(await TakeAsync(channel, consumer, 2)); // more deliveries: attempts that must not double
            channel.CheckpointIfDirty(); // appended again

            Assert.Null(channel.Finish(consumer, held[5]));
            checkpointer.ForceSnapshot();
            channel.CheckpointIfDirty(); // a snapshot while the ops file holds the ops it covers

            channel.MoveTo(new StartPosition(StartPositionKind.Offset, 10), partition: 1);
            Assert.Null(channel.Finish(consumer, held[6]));
            channel.CheckpointIfDirty(); // appended after the snapshot
            checkpointer.Files.OnStep = null;
        }

        Assert.Equal(
            ["snapshot-written", "ops-truncated", "ops-appended", "ops-appended", "snapshot-written", "ops-truncated", "ops-appended"],
            crashes.Select(c => c.Step));
        foreach (var (step, image, expected, previous) in crashes)
        {
            string? torn = null;
            if (step == "ops-appended")
            {
                // The same crash with the last block torn: the state before that append. (Copied first: a restore
                // rewrites the files it restored from.)
                torn = image + "-torn";
                CopyDirectory(image, torn);
                using var f = new FileStream(Path.Combine(torn, "topics", "t", "channels", "c.ops"), FileMode.Open);
                Assert.True(f.Length > CursorOpLog.HeaderSize, $"{Path.GetFileName(image)}: ops file of {f.Length} bytes");
                f.SetLength(f.Length - 5);
            }

            await AssertRestoresAsync(image, time, expected, $"crash at {Path.GetFileName(image)}");
            if (torn != null)
            {
                await AssertRestoresAsync(torn, time, previous!, $"crash at {Path.GetFileName(image)}, last block torn");
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task AVersion1CursorFileStillLoadsAndIsRewrittenAsVersion2()
    {
        using var dir = new TempDirectory("crash");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using (var broker = Start(dir.Path, time))
        {
            var topic = broker.GetOrCreateTopic("t");
            var bodies = Enumerable.Range(0, 20).Select(i => (ReadOnlyMemory<byte>)new[] { (byte)i }).ToList();
            await topic.PublishBatchAsync(bodies, 0);
        }

        // A channel checkpointed by the version before cursor ops (and missing from nsqd.json, as after a crash).
        var due = time.GetUtcNow().ToUnixTimeMilliseconds() + 60_000;
        var v1 = new CursorState();
        var p = v1.Partition(0);
        p.NextRead = 15;
        p.Pending[10] = new CursorEntryState { Attempts = 0 };
        p.Pending[3] = new CursorEntryState { Attempts = 2 };
        p.Pending[7] = new CursorEntryState { Attempts = 1, DueMs = due };
        var path = Path.Combine(dir.Path, "topics", "t", "channels", "c.cursor");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        ChannelCheckpoint.WriteV1(path, v1);
        Assert.Equal(1, ChannelCheckpoint.Read(path)!.Version);

        await using (var broker = Start(dir.Path, time))
        {
            Assert.True(broker.TryGetTopic("t", out var topic));
            Assert.True(topic.TryGetChannel("c", out var channel));
            CursorOpStreamTests.AssertSame(v1, channel.Checkpointer!.StateUnsafe, "restored from v1");
            channel.CheckpointIfDirty();
            var rewritten = ChannelCheckpoint.Read(path)!;
            Assert.Equal(2, rewritten.Version);
            Assert.True(rewritten.OpsGeneration > 0);

            // Redelivery in offset order with the attempts kept; 7 stays deferred; 15.. are read fresh.
            var consumer = new TestConsumer(1);
            Assert.Null(channel.AddClient(consumer, 0));
            var got = new List<(long Offset, ushort Attempts)>();
            while (got.Count < 7)
            {
                if (channel.TryTake(consumer, 60_000, out var d, out var attempts))
                {
                    got.Add((d.Offset, attempts));
                    Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset)));
                }
                else
                {
                    await consumer.Woken.WaitAsync(CancellationToken.None);
                }
            }

            Assert.Equal([(3L, (ushort)3), (10L, (ushort)1), (15L, (ushort)1), (16L, (ushort)1), (17L, (ushort)1), (18L, (ushort)1), (19L, (ushort)1)], got);
            Assert.Equal(1, channel.DeferredCount);
        }
    }

    private static async Task AssertRestoresAsync(string dataPath, TimeProvider time, CursorState expected, string when)
    {
        await using var broker = Start(dataPath, time);
        Assert.True(broker.TryGetTopic("t", out var topic), when);
        Assert.True(topic.TryGetChannel("c", out var channel), when);

        // The checkpointer's copy is taken from the restored cursors before the fill loops start.
        CursorOpStreamTests.AssertSame(CursorOpStreamTests.Restored(expected, topic), channel.Checkpointer!.StateUnsafe, when);
    }

    private static BrokerNode Start(string dataPath, TimeProvider time)
    {
        var broker = new BrokerNode(new NsqdOptions { DataPath = dataPath, Time = time }, NullLoggerFactory.Instance);
        broker.Start();
        return broker;
    }

    private static async Task<List<MessageId>> TakeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer, int count)
    {
        var taken = new List<MessageId>();
        while (taken.Count < count)
        {
            if (channel.TryTake(consumer, 600_000, out var d, out _))
            {
                taken.Add(new MessageId(d.Partition, d.Offset));
            }
            else
            {
                await consumer.Woken.WaitAsync(CancellationToken.None);
            }
        }

        return taken;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            if (!file.EndsWith(".lock", StringComparison.Ordinal))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }
        }

        foreach (var sub in Directory.EnumerateDirectories(from))
        {
            CopyDirectory(sub, Path.Combine(to, Path.GetFileName(sub)));
        }
    }

    private static void AssertLoads(CursorFiles files, CursorState expected, long expectedOps, string when = "")
    {
        var loaded = files.Load();
        Assert.Null(loaded.Error);
        Assert.Equal(expectedOps, loaded.Ops.AppliedOps);
        CursorOpStreamTests.AssertSame(expected, loaded.State!, when);
    }

    private static CursorState Applied(CursorState state, CursorOp[] ops)
    {
        var copy = state.Clone();
        copy.Apply(ops);
        return copy;
    }

    /// <summary>Two partitions with pending entries of every kind.</summary>
    private static CursorState RandomState(Random rng, int pending)
    {
        var state = new CursorState();
        foreach (var partition in new[] { 0, 3 })
        {
            var p = state.Partition(partition);
            p.NextRead = pending * 2;
            for (var i = 0; i < pending; i++)
            {
                var kind = rng.Next(3);
                p.Pending[rng.Next(pending * 2)] = new CursorEntryState
                {
                    Attempts = (ushort)rng.Next(0, 5),
                    InFlight = kind == 1,
                    DueMs = kind == 2 ? 1_700_000_000_000 + rng.Next(1_000_000) : 0,
                };
            }
        }

        return state;
    }

    /// <summary>Ops of every kind, mostly on offsets that are pending in the state as it evolves.</summary>
    private static CursorOp[] RandomOps(Random rng, CursorState start, int count)
    {
        var model = start.Clone();
        var ops = new CursorOp[count];
        for (var i = 0; i < count; i++)
        {
            var partition = rng.Next(2) == 0 ? 0 : 3;
            var p = model.Partition(partition);
            var offset = Math.Max(0, p.NextRead - rng.Next(1, 400));
            ops[i] = rng.Next(100) switch
            {
                < 15 => CursorOp.Read(partition, p.NextRead + (rng.Next(10) == 0 ? rng.Next(1, 5) : 0), p.NextRead + rng.Next(5, 20)),
                < 45 => CursorOp.Deliver(partition, offset),
                < 65 => CursorOp.Finish(partition, offset),
                < 80 => CursorOp.Requeue(partition, offset),
                < 95 => CursorOp.Defer(partition, offset, 1_700_000_000_000 + rng.Next(1_000_000)),
                < 98 => CursorOp.Move(partition, p.NextRead - rng.Next(0, 50), dropInFlight: false),
                _ => CursorOp.Move(partition, p.NextRead, dropInFlight: true),
            };
            model.Apply(ops[i]);
        }

        return ops;
    }

    /// <summary>A Deliver for every pending entry: applied twice, every attempt count would be off by one.</summary>
    private static CursorOp[] Deliveries(CursorState state) =>
        [.. state.Partitions.SelectMany(p => p.Pending.Keys.Select(o => CursorOp.Deliver(p.Partition, o)))];
}
