using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.Replication.Follower;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>Leader and follower partition logs on disk, replicating over a real 127.0.0.1 TCP connection.</summary>
public sealed class ReplicationTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new("nsqsharp-repl");
    private readonly ReplicationSettings _settings = new() { FetchMaxWait = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(20) };

    public void Dispose() => _dir.Dispose();

    private PartitionLog OpenLog(string name) => PartitionLog.Open(Path.Combine(_dir.Path, name), 0,
        new PartitionLogOptions { HighWatermarkFollowsLogEnd = false }, NullLogger.Instance);

    private static ReadOnlyMemory<byte> Body(int i) => Encoding.UTF8.GetBytes($"message {i}");

    [Fact(Timeout = 60_000)]
    public async Task AcksWaitForTheFollower_AndBothLogsEndUpEqual()
    {
        await using var leaderLog = OpenLog("leader");
        await using var followerLog = OpenLog("follower");
        await using var node = new LoopbackLeaderNode();
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 2, _settings, TimeProvider.System);
        node.Lead(leader);

        var first = leaderLog.AppendAsync(Body(0), 0).AsTask();
        await Task.Delay(200);
        Assert.False(first.IsCompleted); // written locally, but the follower has not got it: not acknowledged
        Assert.Equal(0, leaderLog.HighWatermark);

        using var cts = new CancellationTokenSource();
        var follower = new PartitionFollower("t", followerLog, "F", 1, "127.0.0.1", node.Port, _settings, NullLogger.Instance);
        var following = follower.RunAsync(cts.Token);
        await first.WaitAsync(Bound);

        var appends = Enumerable.Range(1, 200).Select(i => leaderLog.AppendAsync(Body(i), 0).AsTask()).ToArray();
        await Task.WhenAll(appends).WaitAsync(Bound);
        await WaitUntil(() => followerLog.HighWatermark == 201);
        Assert.Equal(201, leaderLog.HighWatermark);
        Assert.Equal(201, followerLog.LogEnd);
        Assert.Equal(ReadAll(leaderLog), ReadAll(followerLog));
        Assert.Equal([new EpochEntry(1, 0)], followerLog.LeaderEpochs);

        await cts.CancelAsync();
        await following;
    }

    [Fact(Timeout = 60_000)]
    public async Task TheUnsafeDebugSetting_AcknowledgesOnTheLeadersFsyncAlone()
    {
        // The chaos harness's self-test needs a broker that acknowledges before replicating; this is that broker.
        await using var leaderLog = OpenLog("leader");
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 2,
            new ReplicationSettings { UnsafeAckOnLeaderOnly = true }, TimeProvider.System);

        await leaderLog.AppendAsync(Body(0), 0).AsTask().WaitAsync(Bound); // no follower ever fetched
        Assert.Equal(1, leaderLog.HighWatermark);
    }

    [Fact(Timeout = 60_000)]
    public async Task AFollowerBelowTheLeadersLogStart_RestartsItsLogThere_AndCatchesUp()
    {
        // The leader's log starts at 1000 (retention deleted what came before while the follower was away); the
        // follower holds 0..9 only. Fetching at 10 is out of range: it must restart its log at 1000, not spin.
        await using var leaderLog = OpenLog("leader");
        await leaderLog.ResetToAsync(1000);
        await using (var own = PartitionLog.Open(Path.Combine(_dir.Path, "follower"), 0, new PartitionLogOptions(), NullLogger.Instance))
        {
            for (var i = 0; i < 10; i++)
            {
                await own.AppendAsync(Body(i), 0);
            }
        }

        await using var followerLog = OpenLog("follower");
        await using var node = new LoopbackLeaderNode();
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 2, _settings, TimeProvider.System);
        node.Lead(leader);
        using var cts = new CancellationTokenSource();
        var following = new PartitionFollower("t", followerLog, "F", 1, "127.0.0.1", node.Port, _settings, NullLogger.Instance).RunAsync(cts.Token);

        var appends = Enumerable.Range(0, 50).Select(i => leaderLog.AppendAsync(Body(i), 0).AsTask()).ToArray();
        await Task.WhenAll(appends).WaitAsync(Bound); // acknowledged: the follower has them
        Assert.Equal(1000, followerLog.StartOffset);
        Assert.Equal(1050, followerLog.LogEnd);
        Assert.Equal(ReadAll(leaderLog), ReadAll(followerLog));

        await cts.CancelAsync();
        await following;
    }

    [Fact(Timeout = 60_000)]
    public async Task ALaggingFollowerLeavesTheIsr_AndMinIsrDecidesWhetherAcksContinue()
    {
        var clock = new FakeTimeProvider();
        await using var leaderLog = OpenLog("leader");
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 1, _settings, clock);
        var pending = leaderLog.AppendAsync(Body(0), 0).AsTask();
        await Task.Delay(100);
        Assert.False(pending.IsCompleted);
        Assert.Null(leader.ProposeIsr()); // F is not lagging yet

        clock.Advance(_settings.ReplicaLagTime + TimeSpan.FromSeconds(1));
        var shrunk = leader.ProposeIsr();
        Assert.Equal(["L"], shrunk);
        Assert.False(pending.IsCompleted); // not until the shrink is committed
        leader.IsrCommitted(shrunk!);
        await pending.WaitAsync(Bound); // ISR {L} >= min ISR 1: the HW moves

        // F comes back and reaches the HW: proposed back in.
        leader.RecordFetch("F", leaderLog.LogEnd);
        Assert.Equal(["L", "F"], leader.ProposeIsr());
    }

    [Fact(Timeout = 60_000)]
    public async Task BelowMinIsrNothingIsAcknowledged()
    {
        var clock = new FakeTimeProvider();
        await using var leaderLog = OpenLog("leader");
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F", "G"], ["L", "F", "G"], minIsr: 2, _settings, clock);
        leader.RecordFetch("F", 0);
        leader.RecordFetch("G", 0);
        var pending = leaderLog.AppendAsync(Body(0), 0).AsTask();
        clock.Advance(_settings.ReplicaLagTime + TimeSpan.FromSeconds(1));
        leader.IsrCommitted(leader.ProposeIsr()!);
        Assert.Equal(["L"], leader.Isr);
        Assert.False(leader.HasEnoughReplicas);
        await Task.Delay(200);
        Assert.False(pending.IsCompleted);
        Assert.Equal(0, leaderLog.HighWatermark);
    }

    [Fact(Timeout = 60_000)]
    public async Task AReplicaWithDivergentDataTruncatesToTheNewLeader()
    {
        // Epoch 1: A leads, writes 0..9; B copies 0..4 only. A then writes 10..14 nobody copies and dies.
        // Epoch 2: B leads and writes 5'..7'. A returns as follower: it must drop its 5..14 and copy B's 5'..7'.
        await using var a = OpenLog("a");
        await using var b = OpenLog("b");
        using (new PartitionLeader("t", a, "A", 1, ["A", "B"], ["A"], minIsr: 1, _settings, TimeProvider.System))
        {
            for (int i = 0; i < 15; i++)
            {
                await a.AppendAsync(Body(i), 0);
            }
        }

        await b.AppendRawBatchesAsync(TakeBatches(a, 5)); // B copied offsets 0..4 (one batch per append)

        Assert.Equal(5, b.LogEnd);
        await using var node = new LoopbackLeaderNode();
        using var leaderB = new PartitionLeader("t", b, "B", 2, ["A", "B"], ["B"], minIsr: 1, _settings, TimeProvider.System);
        node.Lead(leaderB);
        for (int i = 5; i < 8; i++)
        {
            await b.AppendAsync(Encoding.UTF8.GetBytes($"epoch 2 message {i}"), 0);
        }

        using var cts = new CancellationTokenSource();
        var follower = new PartitionFollower("t", a, "A", 2, "127.0.0.1", node.Port, _settings, NullLogger.Instance);
        var following = follower.RunAsync(cts.Token);
        await WaitUntil(() => a.LogEnd == 8 && a.LatestEpoch == 2);
        Assert.Equal(ReadAll(b), ReadAll(a));
        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 5)], a.LeaderEpochs);
        await cts.CancelAsync();
        await following;
    }

    [Fact(Timeout = 60_000)]
    public async Task AFollowerOfAnOldEpochIsFenced_AndANonReplicaIsRefused()
    {
        await using var leaderLog = OpenLog("leader");
        await using var followerLog = OpenLog("follower");
        await using var node = new LoopbackLeaderNode();
        using var leader = new PartitionLeader("t", leaderLog, "L", 5, ["L", "F"], ["L", "F"], minIsr: 1, _settings, TimeProvider.System);
        node.Lead(leader);

        var stale = new PartitionFollower("t", followerLog, "F", 4, "127.0.0.1", node.Port, _settings, NullLogger.Instance);
        Assert.Equal(ReplicationError.FencedLeaderEpoch, await stale.RunAsync(CancellationToken.None).WaitAsync(Bound));
        var stranger = new PartitionFollower("t", followerLog, "X", 5, "127.0.0.1", node.Port, _settings, NullLogger.Instance);
        Assert.Equal(ReplicationError.NotReplica, await stranger.RunAsync(CancellationToken.None).WaitAsync(Bound));
        node.StopLeading("t", 0);
        var orphan = new PartitionFollower("t", followerLog, "F", 5, "127.0.0.1", node.Port, _settings, NullLogger.Instance);
        Assert.Equal(ReplicationError.NotLeader, await orphan.RunAsync(CancellationToken.None).WaitAsync(Bound));
    }

    [Fact(Timeout = 60_000)]
    public async Task ReplicationResumesAfterTheConnectionDrops()
    {
        await using var leaderLog = OpenLog("leader");
        await using var followerLog = OpenLog("follower");
        await using var node = new LoopbackLeaderNode();
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 2, _settings, TimeProvider.System);
        node.Lead(leader);
        using var cts = new CancellationTokenSource();
        var following = new PartitionFollower("t", followerLog, "F", 1, "127.0.0.1", node.Port, _settings, NullLogger.Instance).RunAsync(cts.Token);
        for (int round = 0; round < 5; round++)
        {
            var acks = Enumerable.Range(0, 50).Select(i => leaderLog.AppendAsync(Body(round * 50 + i), 0).AsTask()).ToArray();
            node.DropConnections();
            await Task.WhenAll(acks).WaitAsync(Bound);
        }

        await WaitUntil(() => followerLog.LogEnd == 250);
        Assert.Equal(ReadAll(leaderLog), ReadAll(followerLog));
        await cts.CancelAsync();
        await following;
    }

    private static byte[] TakeBatches(PartitionLog log, int count)
    {
        var bytes = new List<byte>();
        for (int offset = 0; offset < count; offset++)
        {
            using var one = log.ReadRawBatches(offset, 1, LogBound.LogEnd); // at least one batch, no more
            Assert.Equal(offset + 1, one.NextOffset);
            bytes.AddRange(one.Bytes.ToArray());
        }

        return [.. bytes];
    }

    private static List<string> ReadAll(PartitionLog log)
    {
        var records = new List<LogRecord>();
        log.Read(log.StartOffset, int.MaxValue, int.MaxValue, LogBound.LogEnd, records);
        return records.Select(r => r.Offset + ":" + Encoding.UTF8.GetString(r.Body.Span)).ToList();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(10, cts.Token);
        }
    }
}
