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
/// The cursor op stream is complete: random sequences of everything that changes a cursor (reads with gaps and DPUB,
/// deliveries, FIN, REQ with and without delay, TOUCH, timeouts, deferrals coming due, clients leaving, seeks, empty,
/// hard-limit retention) on 1–3 partitions, with the checkpointer's copy (built only from the ops) compared against
/// the live cursors' own state at exactly the same point of the stream, many times per run. Then restarts: what the
/// files restore is the live state as restore defines it (in flight comes back waiting, attempts and due times kept).
/// </summary>
public sealed class CursorOpStreamTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory(Timeout = 180_000)]
    [InlineData(1, 1, false, false)]
    [InlineData(2, 2, false, false)]
    [InlineData(3, 3, true, false)]
    [InlineData(4, 2, true, false)]
    [InlineData(5, 2, false, true)]
    public async Task CheckpointersCopyMatchesTheLiveCursorsUnderRandomOperations(int seed, int partitions, bool hardLimit, bool copySmallStates)
    {
        using var dir = new TempDirectory("cursorops");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        NsqdOptions Options() => new()
        {
            DataPath = dir.Path,
            Time = time,
            MaxBytesPerFile = 4096,
            MemQueueSize = 32,
            HardLimitBytes = hardLimit ? 24 * 1024 : 0,
            RetentionAge = TimeSpan.Zero,
        };

        var rng = new Random(seed);
        var sink = new CountingSink();
        long copies = 0;
        var broker = new BrokerNode(Options(), NullLoggerFactory.Instance);
        broker.Start();
        try
        {
            var topic = broker.GetOrCreateTopic("t", partitions);
            var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
            for (var round = 0; round < 3; round++)
            {
                channel.CursorOpSink = sink;
                // Every step applies its ops (the stream is what is tested), or, scaled down to this test's sizes, steps
                // with more ops than pending messages copy the live state instead.
                channel.Checkpointer!.CopyAtMostPending = copySmallStates ? 8 : 0;
                var compared = await RunRandomStepsAsync(broker, topic, channel, time, rng, steps: 400);
                copies += channel.Checkpointer!.Copies;
                Assert.True(compared >= 16, $"only {compared} comparisons");

                // Pause (no fresh reads), settle, compare once more, and restart on the same files.
                topic.Pause();
                await Task.Delay(50);
                var (_, atStop) = channel.Checkpointer!.CheckpointAndCompare();
                await broker.DisposeAsync();
                var (mine, live) = channel.Checkpointer.CheckpointAndCompare();
                AssertSame(live, mine, "after the final checkpoint");
                AssertSame(atStop, live, "nothing changes at stop");

                broker = new BrokerNode(Options(), NullLoggerFactory.Instance);
                broker.Start();
                Assert.True(broker.TryGetTopic("t", out topic));
                Assert.True(topic.TryGetChannel("c", out channel));
                CursorState restored;
                lock (channel.Sync)
                {
                    restored = channel.CaptureStateLocked();
                }

                AssertSame(Restored(live, topic), restored, $"restored after round {round}");
                var (restoredMine, restoredLive) = channel.Checkpointer!.CheckpointAndCompare();
                AssertSame(restoredLive, restoredMine, "the restored checkpointer's copy");
                topic.Unpause();
                output.WriteLine($"round {round}: restored {restored.PendingCount} pending, {live.Partitions.Sum(p => p.Pending.Values.Count(e => e.InFlight))} of them in flight at the stop, {live.Partitions.Sum(p => p.Pending.Values.Count(e => e.DueMs > 0))} deferred");
            }
        }
        finally
        {
            await broker.DisposeAsync();
        }

        output.WriteLine("ops seen by the sink: " + string.Join(", ", sink.Counts.Select(kv => $"{kv.Key} {kv.Value}")));
        output.WriteLine($"steps that copied the live state: {copies}");
        Assert.True(copySmallStates ? copies > 0 : copies == 0);
        Assert.Equal(0, sink.Resyncs); // with a sink the stream is never cut
        foreach (var kind in Enum.GetValues<CursorOpKind>())
        {
            Assert.True(sink.Counts.GetValueOrDefault(kind) > 0, $"no {kind} op in the run");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task AnOverflowingOpBufferFallsBackToOneCopyOfTheLiveState()
    {
        using var dir = new TempDirectory("cursorops");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time }, NullLoggerFactory.Instance);
        broker.Start();
        try
        {
            var topic = broker.GetOrCreateTopic("t");
            var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
            channel.CheckpointIfDirty(); // the fresh channel's first snapshot
            lock (channel.Sync)
            {
                channel.Ops.MaxOps = 100; // noticed once the 256-op array is full
            }

            var consumer = new TestConsumer(1);
            Assert.Null(channel.AddClient(consumer, 0));
            var bodies = Enumerable.Range(0, 100).Select(_ => (ReadOnlyMemory<byte>)new byte[8]).ToList();
            for (var i = 0; i < 10; i++)
            {
                await topic.PublishBatchAsync(bodies, 0);
            }

            var taken = 0;
            while (taken < 1000)
            {
                if (channel.TryTake(consumer, 60_000, out var d, out _))
                {
                    taken++;
                    if (taken % 2 == 0)
                    {
                        Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset)));
                    }
                }
                else
                {
                    await consumer.Woken.WaitAsync(CancellationToken.None);
                }
            }

            Assert.True(channel.Ops.Overflowed);
            var (mine, live) = channel.Checkpointer!.CheckpointAndCompare();
            AssertSame(live, mine, "after the resync");
            Assert.Equal(1, channel.Checkpointer.Resyncs);
            Assert.False(channel.Ops.Overflowed);
            Assert.Equal(500, live.PendingCount);

            await broker.DisposeAsync();
            broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time }, NullLoggerFactory.Instance);
            broker.Start();
            Assert.True(broker.TryGetTopic("t", out topic));
            Assert.True(topic.TryGetChannel("c", out channel));
            lock (channel.Sync)
            {
                AssertSame(Restored(live, topic), channel.CaptureStateLocked(), "restored");
            }
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task ABusyChannelWithFewPendingStopsRecordingAndIsCopiedInstead()
    {
        using var dir = new TempDirectory("cursorops");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time, MemQueueSize = 50 }, NullLoggerFactory.Instance);
        broker.Start();
        var topic = broker.GetOrCreateTopic("t");
        var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
        channel.CheckpointIfDirty();
        channel.Checkpointer!.CopyAtMostPending = 300; // scaled down from 8,192
        var consumer = new TestConsumer(1);
        Assert.Null(channel.AddClient(consumer, 0));
        var bodies = Enumerable.Range(0, 100).Select(_ => (ReadOnlyMemory<byte>)new byte[8]).ToList();
        for (var i = 0; i < 10; i++)
        {
            await topic.PublishBatchAsync(bodies, 0);
        }

        var taken = 0;
        while (taken < 900)
        {
            if (channel.TryTake(consumer, 60_000, out var d, out _))
            {
                taken++;
                Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset)));
            }
            else
            {
                await consumer.Woken.WaitAsync(CancellationToken.None);
            }
        }

        lock (channel.Sync)
        {
            Assert.True(channel.Ops.StoppedForCopy, "about 1,800 ops for at most 51 pending: recording should have stopped");
            Assert.Equal(0, channel.Ops.Count);
        }

        var snapshots = channel.Checkpointer.SnapshotsWritten;
        var (mine, live) = channel.Checkpointer.CheckpointAndCompare();
        AssertSame(live, mine, "after the copy");
        Assert.Equal(1, channel.Checkpointer.Copies);
        Assert.Equal(0, channel.Checkpointer.Resyncs);
        Assert.Equal(snapshots + 1, channel.Checkpointer.SnapshotsWritten);
        lock (channel.Sync)
        {
            Assert.False(channel.Ops.StoppedForCopy);
        }

        // Stopped again, the pending set grows past a cheap copy (takes without FIN): the copy is taken then, at
        // about 300, and ops are recorded again from there; the next step takes that copy and applies them.
        for (var i = 0; i < 8; i++)
        {
            await topic.PublishBatchAsync(bodies, 0);
        }

        var stopped = false;
        while (true)
        {
            if (channel.TryTake(consumer, 60_000, out var d, out _))
            {
                if (!stopped)
                {
                    Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset))); // until it stops again
                }

                lock (channel.Sync)
                {
                    stopped |= channel.Ops.StoppedForCopy;
                    if (channel.Ops.ResumedFromCopy)
                    {
                        Assert.True(stopped);
                        Assert.InRange(channel.PendingCountLocked, 301, 301 + 256);
                        break;
                    }
                }
            }
            else
            {
                await consumer.Woken.WaitAsync(CancellationToken.None);
            }
        }

        for (var i = 0; i < 20 && channel.TryTake(consumer, 60_000, out var more, out _); i++)
        {
            Assert.Null(channel.Finish(consumer, new MessageId(more.Partition, more.Offset)));
        }

        (mine, live) = channel.Checkpointer.CheckpointAndCompare();
        AssertSame(live, mine, "after a copy taken while stopped");
        Assert.Equal(2, channel.Checkpointer.Copies);
        foreach (var offset in live.Partitions[0].Pending.Where(e => e.Value.InFlight).Select(e => e.Key).ToList())
        {
            Assert.Null(channel.Finish(consumer, new MessageId(0, offset)));
        }

        // A sink needs every op: with one, recording never stops for a copy.
        channel.CursorOpSink = new CountingSink();
        await topic.PublishBatchAsync(bodies, 0);
        await topic.PublishBatchAsync(bodies, 0);
        while (taken < 1100)
        {
            if (channel.TryTake(consumer, 60_000, out var d, out _))
            {
                taken++;
                Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset)));
            }
            else
            {
                await consumer.Woken.WaitAsync(CancellationToken.None);
            }
        }

        lock (channel.Sync)
        {
            Assert.False(channel.Ops.StoppedForCopy);
            Assert.True(channel.Ops.Count >= 400);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task ASeekBackOverInFlightMessagesReplaysThemOnceFinished()
    {
        using var dir = new TempDirectory("cursorops");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time }, NullLoggerFactory.Instance);
        broker.Start();
        var topic = broker.GetOrCreateTopic("t");
        var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
        var consumer = new TestConsumer(1);
        Assert.Null(channel.AddClient(consumer, 0));
        await topic.PublishBatchAsync(Enumerable.Range(0, 10).Select(_ => (ReadOnlyMemory<byte>)new byte[4]).ToList(), 0);
        var held = await TakeAsync(channel, consumer, 6, finish: false);
        Assert.Equal([0L, 1, 2, 3, 4, 5], held.Select(h => h.Offset));

        // Replay from 0 while 0..5 are in flight: they stay in flight (no second copy now), and 6..9 come.
        channel.MoveTo(new StartPosition(StartPositionKind.Offset, 0));
        var next = await TakeAsync(channel, consumer, 4, finish: true);
        Assert.Equal([6L, 7, 8, 9], next.Select(n => n.Offset));
        Assert.Equal(6, channel.InFlightCount);

        // Their FINs work, and each is then delivered again for the replay, with its attempts counted.
        foreach (var (offset, _) in held)
        {
            Assert.Null(channel.Finish(consumer, new MessageId(0, offset)));
        }

        Assert.Equal(0, channel.InFlightCount);
        var replayed = await TakeAsync(channel, consumer, 6, finish: true);
        Assert.Equal([0L, 1, 2, 3, 4, 5], replayed.Select(r => r.Offset).Order());
        Assert.All(replayed, r => Assert.Equal(2, r.Attempts));
        Assert.Equal(0, channel.InFlightCount);
        Assert.False(channel.TryTake(consumer, 60_000, out _, out _));
        var (mine, live) = channel.Checkpointer!.CheckpointAndCompare();
        AssertSame(live, mine, "after the replay");
        Assert.Equal(0, live.PendingCount);
    }

    private static async Task<List<(long Offset, ushort Attempts)>> TakeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer, int count, bool finish)
    {
        var taken = new List<(long, ushort)>();
        while (taken.Count < count)
        {
            if (channel.TryTake(consumer, 60_000, out var d, out var attempts))
            {
                taken.Add((d.Offset, attempts));
                if (finish)
                {
                    Assert.Null(channel.Finish(consumer, new MessageId(d.Partition, d.Offset)));
                }
            }
            else
            {
                await consumer.Woken.WaitAsync(CancellationToken.None);
            }
        }

        return taken;
    }

    /// <summary>Random steps on the channel; returns how many times the copy was compared with the live cursors.</summary>
    private static async Task<int> RunRandomStepsAsync(BrokerNode broker, Topic topic, Nsqd.Broker.Channel channel, FakeTimeProvider time, Random rng, int steps)
    {
        var consumers = new[] { new TestConsumer(1), new TestConsumer(2) };
        foreach (var c in consumers)
        {
            Assert.Null(channel.AddClient(c, 0));
        }

        var held = new List<(TestConsumer Client, MessageId Id)>();
        var compared = 0;
        for (var step = 0; step < steps; step++)
        {
            var roll = rng.Next(100);
            if (roll < 18)
            {
                var bodies = Enumerable.Range(0, rng.Next(1, 12)).Select(_ => (ReadOnlyMemory<byte>)new byte[rng.Next(16, 300)]).ToList();
                await topic.PublishBatchAsync(bodies, rng.Next(5) == 0 ? rng.Next(1, 5_000) : 0);
            }
            else if (roll < 42)
            {
                var client = consumers[rng.Next(consumers.Length)];
                for (var i = rng.Next(1, 6); i > 0; i--)
                {
                    if (channel.TryTake(client, rng.Next(500, 8_000), out var d, out _))
                    {
                        held.Add((client, new MessageId(d.Partition, d.Offset)));
                    }
                }
            }
            else if (roll < 70 && held.Count > 0)
            {
                var pick = rng.Next(held.Count);
                var (client, id) = held[pick];
                var action = rng.Next(10);
                if (action < 6)
                {
                    channel.Finish(client, id); // may be stale (timed out, moved): then an error, and no op
                    held.RemoveAt(pick);
                }
                else if (action < 7)
                {
                    channel.Requeue(client, id, 0);
                    held.RemoveAt(pick);
                }
                else if (action < 9)
                {
                    channel.Requeue(client, id, rng.Next(1, 6_000));
                    held.RemoveAt(pick);
                }
                else
                {
                    channel.Touch(client, id, 5_000, 20_000);
                }
            }
            else if (roll < 82)
            {
                time.Advance(TimeSpan.FromMilliseconds(rng.Next(1, 3_000)));
                channel.ProcessTimers();
            }
            else if (roll < 85)
            {
                var client = consumers[rng.Next(consumers.Length)];
                channel.RemoveClient(client); // its in-flight messages are requeued at once
                held.RemoveAll(h => ReferenceEquals(h.Client, client));
                Assert.Null(channel.AddClient(client, 0));
            }
            else if (roll < 89)
            {
                var log = topic.Partitions[rng.Next(topic.Partitions.Length)];
                var to = rng.Next(4) switch
                {
                    0 => StartPosition.Oldest,
                    1 => StartPosition.Newest,
                    _ => new StartPosition(StartPositionKind.Offset, log.StartOffset + rng.NextInt64(Math.Max(1, log.HighWatermark - log.StartOffset + 1))),
                };
                channel.MoveTo(to, rng.Next(2) == 0 ? log.Partition : null);
            }
            else if (roll < 90)
            {
                channel.Empty();
                held.Clear();
            }
            else if (roll < 92)
            {
                broker.EnforceRetention(topic);
            }
            else if (roll < 95)
            {
                channel.CheckpointIfDirty();
            }
            else
            {
                await Task.Delay(rng.Next(0, 3)); // let the fill loops run
            }

            if (step % 20 == 19)
            {
                var (mine, live) = channel.Checkpointer!.CheckpointAndCompare();
                AssertSame(live, mine, $"step {step}");
                compared++;
            }
        }

        return compared; // the clients stay: what they hold is still in flight at the restart
    }

    /// <summary>What restore makes of a state: in flight comes back waiting; offsets the log does not have are gone.</summary>
    internal static CursorState Restored(CursorState state, Topic topic)
    {
        var result = new CursorState();
        foreach (var log in topic.Partitions)
        {
            var r = result.Partition(log.Partition);
            if (!state.TryGetPartition(log.Partition, out var p))
            {
                continue;
            }

            r.NextRead = Math.Clamp(p.NextRead, log.StartOffset, Math.Max(log.StartOffset, log.HighWatermark));
            foreach (var (offset, entry) in p.Pending)
            {
                if (offset >= log.StartOffset && offset < log.HighWatermark)
                {
                    r.Pending[offset] = entry with { InFlight = false };
                }
            }
        }

        return result;
    }

    internal static void AssertSame(CursorState expected, CursorState actual, string when)
    {
        var difference = expected.FirstDifference(actual) ?? actual.FirstDifference(expected);
        Assert.True(difference == null, $"{when}: {difference}\nexpected: {Describe(expected)}\nactual:   {Describe(actual)}");
    }

    private static string Describe(CursorState state) => string.Join("; ", state.Partitions.OrderBy(p => p.Partition).Select(p =>
        $"p{p.Partition} next {p.NextRead}: " + string.Join(" ", p.Pending.OrderBy(e => e.Key).Take(40).Select(e =>
            $"{e.Key}{(e.Value.InFlight ? "f" : "")}{(e.Value.DueMs > 0 ? "d" : "")}a{e.Value.Attempts}"))));

    private sealed class CountingSink : ICursorOpSink
    {
        public Dictionary<CursorOpKind, int> Counts { get; } = [];

        public void OnOps(Nsqd.Broker.Channel channel, ReadOnlySpan<CursorOp> ops)
        {
            foreach (var op in ops)
            {
                Counts[op.Kind] = Counts.GetValueOrDefault(op.Kind) + 1;
            }
        }

        public int Resyncs { get; private set; }

        public void OnResync(Nsqd.Broker.Channel channel, CursorState state) => Resyncs++;
    }
}
