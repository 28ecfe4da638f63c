using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.Replication.Follower;
using NsqSharp.Cluster.Replication.Leader;
using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Replication;

/// <summary>
/// Cursor replication over the replica fetch protocol ("  R1" cursor requests): the frames round-trip; a follower gets
/// the state of every channel whose version it does not hold, and only those; answers are paged within the byte budget
/// and a state bigger than the whole budget is cut at an offset (the rest is read again, never lost); and only the
/// leader of the follower's epoch answers with state.
/// </summary>
public sealed class CursorReplicationTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new("nsqsharp-cursors");

    public void Dispose() => _dir.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task CursorFramesRoundTrip_AndABadCountIsRefused()
    {
        var state = State(7, nextRead: 120, version: 42, 100, 101, 105);
        state.Pending[101] = new CursorEntryState { Attempts = 40_000, InFlight = true };
        state.Pending[105] = new CursorEntryState { Attempts = 2, DueMs = 1_800_000_000_000 };
        using var stream = new MemoryStream();
        await ReplicationCodec.WriteAsync(stream, new CursorRequest("orders", 7, "n2", 3, [new KnownCursor("c1", 9), new KnownCursor("c2", -5)]), CancellationToken.None);
        await ReplicationCodec.WriteAsync(stream, new CursorResponse(ReplicationError.None, 3, true, [new ReplicatedCursor("c1", state)]), CancellationToken.None);
        stream.Position = 0;

        var frame = (await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None))!.Value;
        Assert.Equal(ReplicationMessageType.CursorRequest, frame.Type);
        var request = ReplicationCodec.ReadCursorRequest(frame.Body);
        Assert.Equal(("orders", 7, "n2", 3L), (request.Topic, request.Partition, request.ReplicaId, request.LeaderEpoch));
        Assert.Equal([new KnownCursor("c1", 9), new KnownCursor("c2", -5)], request.Known);

        frame = (await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None))!.Value;
        Assert.Equal(ReplicationMessageType.CursorResponse, frame.Type);
        var response = ReplicationCodec.ReadCursorResponse(frame.Body, 7);
        Assert.Equal((ReplicationError.None, 3L, true), (response.Error, response.LeaderEpoch, response.More));
        var decoded = Assert.Single(response.Channels);
        Assert.Equal("c1", decoded.Channel);
        Assert.Equal((7, 120L, 42L), (decoded.State.Partition, decoded.State.NextRead, decoded.State.Version));
        Assert.Equal(state.Pending.OrderBy(p => p.Key), decoded.State.Pending.OrderBy(p => p.Key));

        // A count that the frame cannot hold is refused before anything is allocated for it.
        var bad = frame.Body.ToArray();
        bad[2 + 8 + 1 + 4 + (2 + 2) + 8 + 8] = 0x7f; // the first channel's entry count, high byte
        Assert.Throws<InvalidDataException>(() => ReplicationCodec.ReadCursorResponse(bad, 7));
    }

    [Fact]
    public void AStateBiggerThanTheBudgetIsCutAtAnOffset_AndReadAgainFromThere()
    {
        var state = State(0, nextRead: 50, version: 3, 40, 12, 30, 10, 44, 20);
        var cut = FetchServer.Cut(state, 3);
        Assert.Equal([10, 12, 20], cut.Pending.Keys.Order());
        Assert.Equal(30, cut.NextRead); // 30, 40 and 44 come again as fresh reads: redelivered, not lost
        Assert.Equal(3, cut.Version);
        Assert.Same(state, FetchServer.Cut(state, 6));
    }

    [Fact(Timeout = 60_000)]
    public async Task AFollowerCopiesChangedChannelsOnly_InPages_AndOnlyFromItsEpochsLeader()
    {
        await using var leaderLog = OpenLog("leader");
        await using var followerLog = OpenLog("follower");
        var leaderCursors = new FakeCursors();
        leaderCursors.Set("a", State(0, nextRead: 30, version: 11, Enumerable.Range(0, 30).Select(i => (long)i).ToArray()));
        leaderCursors.Set("b", State(0, nextRead: 30, version: 21, Enumerable.Range(0, 30).Select(i => (long)i).ToArray()));
        leaderCursors.Set("big", State(0, nextRead: 100, version: 31, Enumerable.Range(0, 100).Select(i => (long)i).ToArray()));

        // A budget of 1000 bytes: one 30-entry channel (593 bytes) per answer, and "big" (1923 bytes) cut to fit.
        await using var node = new LoopbackLeaderNode(leaderCursors, maxCursorBytes: 1000);
        var settings = new ReplicationSettings { FetchMaxWait = TimeSpan.FromMilliseconds(50), RetryDelay = TimeSpan.FromMilliseconds(20), CursorSyncInterval = TimeSpan.FromMilliseconds(50) };
        using var leader = new PartitionLeader("t", leaderLog, "L", 1, ["L", "F"], ["L", "F"], minIsr: 1, settings, TimeProvider.System);
        node.Lead(leader);

        var followerCursors = new FakeCursors();
        var follower = new PartitionFollower("t", followerLog, "F", 1, "127.0.0.1", node.Port, settings, NullLogger.Instance, followerCursors);
        using var cts = new CancellationTokenSource();
        var following = follower.RunAsync(cts.Token);
        await WaitUntil(() => followerCursors.Applied.Count == 3);
        Assert.Equal(30, followerCursors.Get("a").Pending.Count);
        Assert.Equal(30, followerCursors.Get("b").Pending.Count);
        var big = followerCursors.Get("big");
        Assert.Equal((1000 - 64 - 25) / ReplicationCodec.CursorEntryBytes, big.Pending.Count);
        Assert.Equal(big.Pending.Count, big.NextRead);
        Assert.Equal(Enumerable.Range(0, big.Pending.Count).Select(i => (long)i), big.Pending.Keys.Order());

        // Unchanged channels are not sent again; a changed one is, once.
        await Task.Delay(300);
        Assert.Equal(3, followerCursors.Applied.Count);
        leaderCursors.Set("b", State(0, nextRead: 31, version: 22, 30));
        await WaitUntil(() => followerCursors.Get("b").Version == 22);
        await Task.Delay(300);
        Assert.Equal(["a", "b", "big", "b"], followerCursors.Applied);
        Assert.Equal(31, followerCursors.Get("b").NextRead);
        Assert.Equal(4, follower.CursorsApplied);
        await cts.CancelAsync();
        await following;

        // Fenced: a follower of an older epoch, or a node that is no replica, gets an error and no state.
        foreach (var (replica, epoch, error) in new[] { ("F", 0L, ReplicationError.FencedLeaderEpoch), ("X", 1L, ReplicationError.NotReplica) })
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", node.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(ReplicationCodec.Magic.ToArray());
            await ReplicationCodec.WriteAsync(stream, new CursorRequest("t", 0, replica, epoch, []), CancellationToken.None);
            var frame = (await ReplicationCodec.ReadFrameAsync(stream, CancellationToken.None).WaitAsync(Bound))!.Value;
            var answer = ReplicationCodec.ReadCursorResponse(frame.Body, 0);
            Assert.Equal(error, answer.Error);
            Assert.Empty(answer.Channels);
        }
    }

    private PartitionLog OpenLog(string name) => PartitionLog.Open(Path.Combine(_dir.Path, name), 0,
        new PartitionLogOptions { HighWatermarkFollowsLogEnd = false }, NullLogger.Instance);

    private static PartitionCursorState State(int partition, long nextRead, long version, params long[] pending)
    {
        var state = new PartitionCursorState(partition) { NextRead = nextRead, Version = version };
        foreach (var offset in pending)
        {
            state.Pending[offset] = new CursorEntryState { Attempts = 1 };
        }

        return state;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(Bound);
        while (!condition())
        {
            await Task.Delay(10, cts.Token);
        }
    }

    /// <summary>In-memory channels of partition 0 of topic "t": the leader's states, or what a follower applied.</summary>
    private sealed class FakeCursors : IChannelCursors
    {
        private readonly ConcurrentDictionary<string, PartitionCursorState> _states = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _applied = new();

        public IReadOnlyList<string> Applied => [.. _applied];

        public void Set(string channel, PartitionCursorState state) => _states[channel] = state;

        public PartitionCursorState Get(string channel) => _states[channel];

        public IReadOnlyList<string> Channels(string topic) => [.. _states.Keys.Order(StringComparer.Ordinal)];

        public PartitionCursorState? Export(string topic, string channel, int partition, long knownVersion) =>
            _states.TryGetValue(channel, out var s) && s.Version != knownVersion ? s.Copy() : null;

        public IReadOnlyList<KnownCursor> Known(string topic, int partition) => [.. _states.Select(s => new KnownCursor(s.Key, s.Value.Version))];

        public bool Apply(string topic, string channel, PartitionCursorState state)
        {
            _states[channel] = state;
            _applied.Enqueue(channel);
            return true;
        }
    }
}
