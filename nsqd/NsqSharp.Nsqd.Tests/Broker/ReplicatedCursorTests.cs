using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// Cursor replication's broker side (cluster mode): a leader's channel exports its checkpointed cursor state of a
/// partition with a version; a follower's copy of the channel takes it whole, persists it at its next checkpoint, and
/// once it leads delivers from it: the next read offset is the leader's, what was pending comes back requeued with its
/// attempts, deferred messages (REQ with a delay, DPUB) wait for their due time, and finished ones never come back.
/// </summary>
public sealed class ReplicatedCursorTests
{
    [Fact(Timeout = 60_000)]
    public async Task AFollowersCopyTakesTheLeadersCursor_KeepsItAcrossARestart_AndDeliversFromItWhenLeading()
    {
        using var leaderDir = new TempDirectory("cursor-leader");
        using var followerDir = new TempDirectory("cursor-follower");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var leaderRoles = new FakeRoles();
        var followerRoles = new FakeRoles();
        leaderRoles.Lead("t", 0);
        var leader = Start(leaderDir, time, leaderRoles);
        await using var leaderScope = leader;
        var follower = Start(followerDir, time, followerRoles);

        // The leader: 20 messages and one DPUB a minute ahead; the channel delivers 10: 6 finished, 2 requeued with a
        // minute's delay, 2 left in flight. 10 stay queued (read ahead, never delivered).
        var topic = await leader.GetOrCreateTopicAsync("t", [0]);
        var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
        Assert.True(topic.TryGetPartition(0, out var log));
        for (var i = 0; i < 20; i++)
        {
            await PublishCommittedAsync(topic, log, "m" + i, deferMs: 0);
        }

        await PublishCommittedAsync(topic, log, "dpub", deferMs: 60_000);
        var consumer = new TestConsumer(3);
        var taken = new List<(long Offset, ushort Attempts)>();
        for (var i = 0; i < 10; i++)
        {
            taken.Add(await TakeAsync(channel, consumer));
        }

        var finished = taken.Take(6).Select(t => t.Offset).ToHashSet();
        foreach (var offset in finished)
        {
            Assert.Null(channel.Finish(consumer, new MessageId(0, offset)));
        }

        var requeued = taken.Skip(6).Take(2).Select(t => t.Offset).ToList();
        foreach (var offset in requeued)
        {
            Assert.Null(channel.Requeue(consumer, new MessageId(0, offset), delayMs: 60_000));
        }

        await WaitUntilAsync(() => channel.DeferredCount == 3);
        channel.CheckpointIfDirty();
        var state = channel.ExportCursor(0, knownVersion: 0);
        Assert.NotNull(state);
        Assert.Equal(21, state.NextRead);
        Assert.Equal(15, state.Pending.Count);
        Assert.Equal(2, state.Pending.Values.Count(e => e.InFlight && e.Attempts == 1));
        Assert.Equal(3, state.Pending.Values.Count(e => e.DueMs > 0));
        Assert.Null(channel.ExportCursor(0, state.Version)); // unchanged since: nothing to send
        Assert.DoesNotContain(state.Pending.Keys, finished.Contains);

        // The follower: its copy of the channel starts at the oldest message. Applied before its log has the data,
        // the state is cut at its high watermark and not counted as held (the leader sends it again).
        var copyTopic = await follower.GetOrCreateTopicAsync("t", [0]);
        var copy = copyTopic.GetOrCreateChannel("c", StartPosition.Oldest);
        Assert.True(copyTopic.TryGetPartition(0, out var copyLog));
        Assert.True(copy.ApplyReplicatedCursor(state));
        Assert.Equal(0, copy.ReplicatedCursorVersion(0));

        using (var raw = log.ReadRawBatches(0, 1 << 20, LogBound.LogEnd))
        {
            await copyLog.AppendRawBatchesAsync(raw.Bytes);
        }

        copyLog.AdvanceHighWatermark(copyLog.LogEnd);
        Assert.True(copy.ApplyReplicatedCursor(state));
        Assert.Equal(state.Version, copy.ReplicatedCursorVersion(0));
        Assert.Equal(12, copy.Depth); // queued and in flight at the leader: requeued here
        Assert.Equal(3, copy.DeferredCount);
        Assert.Equal(0, copy.InFlightCount);
        Assert.False(copy.TryTake(consumer, 60_000, out _, out _)); // a follower's copy delivers nothing

        // Persisted by the copy's own checkpoint: a restart keeps it.
        copy.CheckpointIfDirty();
        await follower.DisposeAsync();
        followerRoles.Lead("t", 0);
        follower = Start(followerDir, time, followerRoles);
        await using var followerScope = follower;
        Assert.True(follower.TryGetTopic("t", out copyTopic));
        Assert.True(copyTopic.TryGetChannel("c", out copy));
        CursorState restored;
        lock (copy.Sync)
        {
            restored = copy.CaptureStateLocked();
        }

        Assert.True(restored.TryGetPartition(0, out var restoredPartition));
        Assert.Equal(21, restoredPartition.NextRead);
        Assert.Equal(state.Pending.Keys.Order(), restoredPartition.Pending.Keys.Order());

        // Leading now: the 12 come again (attempts kept, + 1), the deferred ones only at their due time, no FINed one.
        var again = new List<(long Offset, ushort Attempts)>();
        for (var i = 0; i < 12; i++)
        {
            again.Add(await TakeAsync(copy, consumer));
        }

        Assert.DoesNotContain(again, a => finished.Contains(a.Offset) || requeued.Contains(a.Offset));
        Assert.Equal(taken.Skip(8).Select(t => t.Offset).Order(), again.Where(a => a.Attempts == 2).Select(a => a.Offset).Order());
        Assert.Equal(10, again.Count(a => a.Attempts == 1));
        time.Advance(TimeSpan.FromMilliseconds(59_000));
        copy.ProcessTimers();
        Assert.False(copy.TryTake(consumer, 60_000, out _, out _));
        Assert.Equal(3, copy.DeferredCount);

        time.Advance(TimeSpan.FromSeconds(2));
        copy.ProcessTimers();
        var due = new List<(long Offset, ushort Attempts)>();
        for (var i = 0; i < 3; i++)
        {
            due.Add(await TakeAsync(copy, consumer));
        }

        Assert.Equal(requeued.Append(20).Order(), due.Select(d => d.Offset).Order());
        Assert.Equal([1, 2, 2], due.Select(d => (int)d.Attempts).Order());
    }

    [Fact(Timeout = 60_000)]
    public async Task ALeadingPartitionRefusesAReplicatedState_AndEphemeralChannelsExportNothing()
    {
        using var dir = new TempDirectory("cursor-refuse");
        var roles = new FakeRoles();
        roles.Lead("t", 0);
        await using var broker = Start(dir, new FakeTimeProvider(DateTimeOffset.UtcNow), roles);
        var topic = await broker.GetOrCreateTopicAsync("t", [0]);
        var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
        var state = new PartitionCursorState(0) { NextRead = 0, Version = 5 };
        Assert.False(channel.ApplyReplicatedCursor(state));

        roles.Follow("t", 0);
        Assert.True(channel.ApplyReplicatedCursor(state));
        Assert.Equal(5, channel.ReplicatedCursorVersion(0));

        var ephemeral = topic.GetOrCreateChannel("e#ephemeral", StartPosition.Oldest);
        Assert.Null(ephemeral.ExportCursor(0, 0));
        Assert.False(ephemeral.ApplyReplicatedCursor(state));
    }

    private static BrokerNode Start(TempDirectory dir, FakeTimeProvider time, FakeRoles roles)
    {
        var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time, Replicated = true }, NullLoggerFactory.Instance) { Roles = roles };
        broker.Start();
        return broker;
    }

    /// <summary>Publishes and, as the replication leader would once the ISR has it, moves the high watermark.</summary>
    private static async Task PublishCommittedAsync(Topic topic, PartitionLog log, string body, long deferMs)
    {
        var end = log.LogEnd;
        var publish = topic.PublishAsync(Encoding.UTF8.GetBytes(body), deferMs).AsTask();
        await WaitUntilAsync(() => log.LogEnd == end + 1);
        log.AdvanceHighWatermark(end + 1);
        await publish;
    }

    private static async Task<(long Offset, ushort Attempts)> TakeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (channel.TryTake(consumer, 600_000, out var delivery, out var attempts))
            {
                return (delivery.Offset, attempts);
            }

            await consumer.Woken.WaitAsync(cts.Token);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            await Task.Delay(5, cts.Token);
        }
    }
}
