using System.Diagnostics;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, acceptance 1 and 6, against real processes (etcd, 3 nsqd, 2 nsqlookupd controllers): RF=3, min_isr=2,
/// publishers with acks on every node (the ones on followers forwarded to the leader). SIGKILL the leader, twice: a
/// new leader takes publishes again (the time is reported), the killed node restarts and rejoins the ISR as a
/// follower. Between the two, the controller lookupd is SIGKILLed: the other lookupd takes over and performs the
/// second failover. A drain from the last leader returns every acknowledged message.
/// </summary>
public sealed class LeaderKillTests(ITestOutputHelper output)
{
    [EtcdFact(Timeout = 240_000)]
    public async Task KilledLeaders_LoseNothingAcknowledged_AndRejoinAsFollowers()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: false, lookupds: 2);
        await harness.WaitForAsync(v => v.Controller is not null);
        await harness.CreateTopicAsync("orders", replicas: 3, minIsr: 2, "drain");
        await harness.WaitForAsync(v => v.Topics["orders"].Partitions[0].State.Isr.Count == 3);

        var log = new PublishLog();
        using var stop = new CancellationTokenSource();
        var publishers = harness.Cluster.Nodes.Select((node, i) => Task.Run(() => ClusterHarness.PublishUntilAsync(node, "orders", $"w{i}", log, stop.Token))).ToList();
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= 300);

        var failovers = new List<TimeSpan>();
        for (var kill = 0; kill < 2; kill++)
        {
            var before = harness.Partition("orders");
            var victim = harness.Cluster.Node(before.Leader!);
            victim.Kill9(); // returns once the process is gone
            var killedAt = Stopwatch.GetTimestamp();
            var moved = await harness.WaitForAsync(v => v.Topics["orders"].Partitions[0].State is { Leader: not null } s && s.LeaderEpoch > before.LeaderEpoch);
            var after = moved.Topics["orders"].Partitions[0].State;
            Assert.NotEqual(before.Leader, after.Leader);
            Assert.DoesNotContain(before.Leader, after.Isr);

            // Acknowledged again: a publish acked after the kill went through the new leader (the old one is dead).
            await ClusterHarness.WaitUntilAsync(() => log.FirstAckAfter(killedAt) is not null);
            var failover = Stopwatch.GetElapsedTime(killedAt, log.FirstAckAfter(killedAt)!.Value);
            failovers.Add(failover);
            output.WriteLine($"kill {kill + 1}: leader {before.Leader} (epoch {before.LeaderEpoch}) -> {after.Leader} (epoch {after.LeaderEpoch}); acknowledged again after {failover.TotalMilliseconds:0} ms");

            // The killed node comes back as a follower and catches up into the ISR.
            await victim.RestartAsync();
            await harness.WaitForAsync(v => v.Topics["orders"].Partitions[0].State.Isr.Contains(before.Leader!));
            Assert.NotEqual(before.Leader, harness.Partition("orders").Leader);
            await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= 300 * (kill + 2));
            if (kill == 0)
            {
                var controller = harness.Watcher.Current.Controller!;
                var active = harness.Cluster.Lookupds.Single(l => controller == $"127.0.0.1:{l.HttpPort}");
                active.Kill9();
                var next = await harness.WaitForAsync(v => v.Controller is not null && v.Controller != controller);
                output.WriteLine($"controller lookupd {controller} killed; {next.Controller} took over");
            }
        }

        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        var acked = log.AckedBodies;
        output.WriteLine($"acknowledged {acked.Count}; failures: {log.DescribeFailures()}");

        var leader = harness.Cluster.Node(harness.Partition("orders").Leader!);
        var received = await ClusterHarness.DrainAsync(leader, "orders", "drain", acked);
        var lost = acked.Where(a => !received.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acked.Count} acknowledged messages lost, e.g. {string.Join(", ", lost.Take(5))}");
        output.WriteLine($"failover (kill -> first ack on the new leader): {string.Join(", ", failovers.Select(f => $"{f.TotalMilliseconds:0} ms"))}");
    }
}
