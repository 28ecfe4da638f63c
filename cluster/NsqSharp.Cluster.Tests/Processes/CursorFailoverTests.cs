using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using NsqSharp.Client;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, cursor replication against real processes: RF=3, min_isr=2. A consumer of channel "work" at the leader
/// finishes most of N messages, keeps some in flight, requeues a few with a long delay, and a few more were published
/// deferred (DPUB). Once both followers' copies of the channel show that state (replicated from the leader's
/// checkpoint), some of the held messages are finished too and the leader is SIGKILLed straight away. The new
/// leader's channel then delivers every message not finished before the kill (at least once), keeps the deferred
/// ones deferred until their due time, and redelivers only a small, bounded number of finished messages: those whose
/// FIN the leader had not yet checkpointed and replicated.
/// </summary>
public sealed class CursorFailoverTests(ITestOutputHelper output)
{
    private const int N = 2000;
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(40);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [EtcdFact(Timeout = 240_000)]
    public async Task AfterALeaderKill_TheNewLeaderDeliversFromTheReplicatedCursor()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("jobs", replicas: 3, minIsr: 2, "work");
        await harness.WaitForAsync(v => v.Topics["jobs"].Partitions[0].State.Isr.Count == 3);
        var before = harness.Partition("jobs");
        var leader = harness.Cluster.Node(before.Leader!);
        var followers = harness.Cluster.Nodes.Where(n => n != leader).ToList();

        // Which message gets what: held in flight (some of them finished just before the kill), requeued with a delay.
        static bool Held(int i) => i % 100 == 7;              // 20
        static bool FinishedLate(int i) => i % 200 == 7;      // 10 of the held
        static bool Requeued(int i) => i % 400 == 13;         // 5
        var dueBy = new ConcurrentDictionary<string, DateTimeOffset>(StringComparer.Ordinal); // earliest allowed arrival

        await using (var producer = new Producer(leader.TcpAddress, new NsqConfig()))
        {
            for (var b = 0; b < N / 100; b++)
            {
                await producer.MultiPublishAsync("jobs", Enumerable.Range(b * 100, 100).Select(i => Encoding.UTF8.GetBytes($"m-{i}"))).AsTask().WaitAsync(ClusterHarness.Bound);
            }

            for (var d = 0; d < 5; d++)
            {
                dueBy[$"d-{d}"] = DateTimeOffset.UtcNow + Delay;
                await producer.DeferredPublishAsync("jobs", Delay, Encoding.UTF8.GetBytes($"d-{d}")).AsTask().WaitAsync(ClusterHarness.Bound);
            }
        }

        // Consume at the leader.
        var finished = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var held = new ConcurrentDictionary<string, Message>(StringComparer.Ordinal);
        var seen = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        var early = new ConcurrentQueue<string>();
        var consumer = new Consumer("jobs", "work", new NsqConfig { MaxInFlight = 200 });
        await consumer.ConnectToNsqdAsync(leader.TcpAddress);
        using var stopConsuming = new CancellationTokenSource();
        var consuming = Task.Run(async () =>
        {
            try
            {
                await foreach (var message in consumer.ReadAllAsync(stopConsuming.Token))
                {
                    var body = Encoding.UTF8.GetString(message.Body.Span);
                    message.DisableAutoResponse();
                    if (body.StartsWith("d-", StringComparison.Ordinal))
                    {
                        early.Enqueue(body); // a DPUB before its time: wrong
                        continue;
                    }

                    seen[body] = true;
                    var i = int.Parse(body.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture);
                    if (Held(i))
                    {
                        held[body] = message;
                    }
                    else if (Requeued(i))
                    {
                        dueBy[body] = DateTimeOffset.UtcNow + Delay;
                        message.RequeueWithoutBackoff(Delay);
                    }
                    else
                    {
                        finished[body] = true;
                        message.Finish();
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        await ClusterHarness.WaitUntilAsync(() => seen.Count == N);
        Assert.Equal(20, held.Count);
        await ClusterHarness.WaitUntilAsync(async () => await ChannelAsync(leader) is { InFlight: 20, Deferred: 10, Depth: 0 });

        // Both followers' copies hold the leader's state: nothing waiting but the 20 held (requeued there), 10 deferred.
        foreach (var follower in followers)
        {
            (long Depth, long InFlight, long Deferred) last = default;
            try
            {
                await ClusterHarness.WaitUntilAsync(async () => (last = await ChannelAsync(follower)) is { Depth: 20, Deferred: 10, InFlight: 0 });
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the follower's copy of the channel never took the leader's cursor: depth {last.Depth}, deferred {last.Deferred}, in flight {last.InFlight}");
            }
        }

        output.WriteLine("followers' copies of the channel: depth 20, deferred 10 (the leader's state)");

        // A few more FINs, then the kill as soon as the leader has them: these may not be replicated yet.
        foreach (var (body, message) in held.Where(h => FinishedLate(int.Parse(h.Key.AsSpan(2), System.Globalization.CultureInfo.InvariantCulture))))
        {
            finished[body] = true;
            message.Finish();
        }

        await ClusterHarness.WaitUntilAsync(async () => await ChannelAsync(leader) is { InFlight: 10 });
        leader.Kill9();
        await stopConsuming.CancelAsync();
        await consuming;
        Assert.Empty(early);
        using (var stopBound = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await consumer.StopAsync(stopBound.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        var moved = await harness.WaitForAsync(v => v.Topics["jobs"].Partitions[0].State is { Leader: not null } s && s.LeaderEpoch > before.LeaderEpoch);
        var newLeader = harness.Cluster.Node(moved.Topics["jobs"].Partitions[0].State.Leader!);
        Assert.NotSame(leader, newLeader);
        await ClusterHarness.WaitUntilAsync(async () => await ClusterHarness.RoleAsync(newLeader, "jobs") == "leader");

        // The new leader's channel starts from the replicated cursor: the deferred messages are deferred there.
        var atTakeover = await ChannelAsync(newLeader);
        var earliestDue = dueBy.Values.Min();
        output.WriteLine($"new leader {moved.Topics["jobs"].Partitions[0].State.Leader}: depth {atTakeover.Depth}, deferred {atTakeover.Deferred}, {(earliestDue - DateTimeOffset.UtcNow).TotalSeconds:0.0} s before the first due time");
        if (DateTimeOffset.UtcNow < earliestDue - TimeSpan.FromSeconds(1))
        {
            Assert.Equal(10, atTakeover.Deferred);
        }

        // Consume from the new leader until everything not finished before the kill has come.
        var required = held.Keys.Where(b => !finished.ContainsKey(b)).Concat(dueBy.Keys).ToHashSet(StringComparer.Ordinal);
        var arrivals = new Dictionary<string, (DateTimeOffset At, int Attempts)>(StringComparer.Ordinal);
        var redeliveredFinished = new HashSet<string>(StringComparer.Ordinal);
        await using (var drain = new Consumer("jobs", "work", new NsqConfig { MaxInFlight = 200 }))
        {
            await drain.ConnectToNsqdAsync(newLeader.TcpAddress);
            using var bound = new CancellationTokenSource(Delay + ClusterHarness.Bound);
            var missing = new HashSet<string>(required, StringComparer.Ordinal);
            try
            {
                await foreach (var message in drain.ReadAllAsync(bound.Token))
                {
                    var body = Encoding.UTF8.GetString(message.Body.Span);
                    arrivals.TryAdd(body, (DateTimeOffset.UtcNow, message.Attempts));
                    if (finished.ContainsKey(body))
                    {
                        redeliveredFinished.Add(body);
                    }

                    missing.Remove(body);
                    if (missing.Count == 0)
                    {
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }

            Assert.True(missing.Count == 0, $"{missing.Count} messages not finished before the kill never came from the new leader, e.g. {string.Join(", ", missing.Take(5))}");
        }

        var lateRedelivered = redeliveredFinished.Count(b => held.ContainsKey(b));
        output.WriteLine($"redelivered after the failover: {redeliveredFinished.Count} of {finished.Count} finished messages ({lateRedelivered} of the 10 finished just before the kill); {arrivals.Count} messages in all");
        Assert.True(redeliveredFinished.Count < N * 5 / 100, $"{redeliveredFinished.Count} finished messages redelivered (bound: 5% of {N})");

        // Held messages come back with their attempts (1 at the old leader, so at least 2); deferred ones not before due.
        foreach (var body in held.Keys.Where(b => !finished.ContainsKey(b)))
        {
            Assert.True(arrivals[body].Attempts >= 2, $"{body} arrived with attempts {arrivals[body].Attempts}");
        }

        foreach (var (body, due) in dueBy)
        {
            Assert.True(arrivals[body].At >= due - TimeSpan.FromMilliseconds(100), $"{body} arrived {(due - arrivals[body].At).TotalMilliseconds:0} ms before its due time");
        }
    }

    private static async Task<(long Depth, long InFlight, long Deferred)> ChannelAsync(NsqdProcess node)
    {
        using var doc = JsonDocument.Parse(await Http.GetStringAsync($"{node.HttpBase}/stats?format=json&topic=jobs&channel=work"));
        var topic = doc.RootElement.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic_name").GetString() == "jobs");
        var channel = topic.GetProperty("channels").EnumerateArray().Single(c => c.GetProperty("channel_name").GetString() == "work");
        return (channel.GetProperty("depth").GetInt64(), channel.GetProperty("in_flight_count").GetInt64(), channel.GetProperty("deferred_count").GetInt64());
    }
}
