using NsqSharp.Client;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, acceptance 5, against real processes: etcd is stopped for 30 s while publishers keep going. Replication
/// needs no etcd, so publishes to an existing topic go on being acknowledged; what needs etcd (creating a topic) is
/// refused with E_CLUSTER_UNAVAILABLE instead of being done unsafely. etcd comes back: the nodes re-register by
/// themselves, the cluster creates topics again, and nothing acknowledged is lost.
/// </summary>
public sealed class EtcdOutageTests(ITestOutputHelper output)
{
    [EtcdFact(Timeout = 240_000)]
    public async Task EtcdStoppedFor30s_LosesNothingAcknowledged_RefusesWhatNeedsIt_AndRecovers()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("steady", replicas: 3, minIsr: 2, "drain");
        await harness.WaitForAsync(v => v.Topics["steady"].Partitions[0].State.Isr.Count == 3);

        var log = new PublishLog();
        using var stop = new CancellationTokenSource();
        var publishers = harness.Cluster.Nodes.Select((node, i) => Task.Run(() => ClusterHarness.PublishUntilAsync(node, "steady", $"w{i}", log, stop.Token))).ToList();
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= 200);

        harness.Cluster.Etcd.Kill9();
        var ackedAtStop = log.AckedCount;

        // Without etcd, a topic cannot be created safely: refused within the bound, the connection kept.
        await using (var producer = new Producer(harness.Cluster.Nodes[1].TcpAddress, new NsqConfig()))
        {
            var e = await Assert.ThrowsAsync<NsqServerException>(() => producer.PublishAsync("born-in-outage", "x"u8.ToArray()).AsTask().WaitAsync(ClusterHarness.Bound));
            Assert.Equal("E_CLUSTER_UNAVAILABLE", e.Code);
        }

        await Task.Delay(TimeSpan.FromSeconds(30));
        var ackedInOutage = log.AckedCount - ackedAtStop;
        output.WriteLine($"acknowledged during the 30 s without etcd: {ackedInOutage}");
        Assert.True(ackedInOutage > 0, "replication needs no etcd: publishes to an existing topic go on");

        await harness.Cluster.Etcd.RestartAsync();
        await harness.WaitForAsync(v => v.Nodes.Count == 3);

        // Creating works again (the first PUB of a topic creates it cluster-wide).
        using (var bound = new CancellationTokenSource(ClusterHarness.Bound))
        {
            await using var producer = new Producer(harness.Cluster.Nodes[1].TcpAddress, new NsqConfig());
            while (true)
            {
                try
                {
                    await producer.PublishAsync("born-after", "x"u8.ToArray(), bound.Token);
                    break;
                }
                catch (NsqServerException e) when (e.Code is "E_CLUSTER_UNAVAILABLE" or "E_NOT_ENOUGH_REPLICAS" or "E_NOT_LEADER") // all say "not taken, try again"
                {
                    await Task.Delay(200, bound.Token);
                }
            }
        }

        var afterRestart = log.AckedCount;
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= afterRestart + 200);
        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        var acked = log.AckedBodies;
        output.WriteLine($"acknowledged {acked.Count}; failures: {log.DescribeFailures()}");

        var leader = harness.Cluster.Node(harness.Partition("steady").Leader!);
        var received = await ClusterHarness.DrainAsync(leader, "steady", "drain", acked);
        var lost = acked.Where(a => !received.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acked.Count} acknowledged messages lost, e.g. {string.Join(", ", lost.Take(5))}");
    }
}
