using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Cluster.Tests.Processes;

/// <summary>
/// Issue 10, acceptance 2, against real processes: the leader is frozen (SIGSTOP) for longer than its lease while
/// publishing goes on through the other nodes, then thawed. The controller moves leadership; the old leader, which
/// still believes it leads when it wakes, acknowledges nothing on its old epoch (its publishers get errors), truncates
/// what only it had, and rejoins as a follower whose log equals the new leader's up to the high watermark.
/// </summary>
public sealed class PausedLeaderTests(ITestOutputHelper output)
{
    [EtcdFact(Timeout = 240_000)]
    public async Task LeaderPausedBeyondItsLease_AcknowledgesNothingOnTheOldEpoch_AndRejoinsWithTheSameLog()
    {
        await using var harness = await ClusterHarness.StartAsync(3, inTestController: true);
        await harness.CreateTopicAsync("ledger", replicas: 3, minIsr: 2, "drain");
        await harness.WaitForAsync(v => v.Topics["ledger"].Partitions[0].State.Isr.Count == 3);

        var log = new PublishLog();
        using var stop = new CancellationTokenSource();
        var publishers = harness.Cluster.Nodes.Select((node, i) => Task.Run(() => ClusterHarness.PublishUntilAsync(node, "ledger", $"w{i}", log, stop.Token))).ToList();
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= 200);

        var old = harness.Cluster.Nodes[0];
        old.Pause();
        var moved = await harness.WaitForAsync(v => v.Topics["ledger"].Partitions[0].State is { Leader: not null and not "n1", LeaderEpoch: > 1 });
        var newLeader = moved.Topics["ledger"].Partitions[0].State.Leader!;
        var ackedAtTakeover = log.AckedCount;
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= ackedAtTakeover + 200); // the new leader acknowledges meanwhile
        old.Resume();

        // The old leader learns the new state, truncates and follows; it is back in the ISR once caught up.
        await harness.WaitForAsync(v => v.Topics["ledger"].Partitions[0].State.Isr.Contains("n1"));
        await ClusterHarness.WaitUntilAsync(() => log.AckedCount >= ackedAtTakeover + 400);
        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        var acked = log.AckedBodies;
        output.WriteLine($"acknowledged {acked.Count}; failures: {log.DescribeFailures()}");

        // Nothing acknowledged was lost, i.e. nothing was acknowledged on the old epoch only.
        var received = await ClusterHarness.DrainAsync(harness.Cluster.Node(newLeader), "ledger", "drain", acked);
        var lost = acked.Where(a => !received.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acked.Count} acknowledged messages lost, e.g. {string.Join(", ", lost.Take(5))}");

        // Stopped gracefully once the old leader has caught up (a follower learns the leader's high watermark one fetch
        // later), the two logs hold the same records up to the high watermark.
        var leaderNode = harness.Cluster.Node(newLeader);
        using (var bound = new CancellationTokenSource(ClusterHarness.Bound))
        {
            while (await HighWatermarkAsync(old, "ledger") != await HighWatermarkAsync(leaderNode, "ledger"))
            {
                await Task.Delay(50, bound.Token);
            }
        }

        var oldPath = Path.Combine(old.DataPath, "topics", "ledger", "0");
        var newPath = Path.Combine(harness.Cluster.Node(newLeader).DataPath, "topics", "ledger", "0");
        Assert.True(old.Terminate(TimeSpan.FromSeconds(30)));
        Assert.True(harness.Cluster.Node(newLeader).Terminate(TimeSpan.FromSeconds(30)));
        var oldRecords = await ReadAsync(oldPath);
        var newRecords = await ReadAsync(newPath);
        var hw = Math.Min(oldRecords.HighWatermark, newRecords.HighWatermark);
        output.WriteLine($"old leader: log end {oldRecords.Records.Count}, hw {oldRecords.HighWatermark}; new leader: log end {newRecords.Records.Count}, hw {newRecords.HighWatermark}");
        Assert.True(hw >= acked.Count, $"high watermark {hw} below the {acked.Count} acknowledged");
        Assert.Equal(newRecords.Records.Take((int)hw), oldRecords.Records.Take((int)hw));
    }

    private static async Task<(List<(long Offset, string Body)> Records, long HighWatermark)> ReadAsync(string directory)
    {
        await using var log = PartitionLog.Open(directory, 0, new PartitionLogOptions { HighWatermarkFollowsLogEnd = false },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var records = new List<LogRecord>();
        var offset = log.StartOffset;
        while (offset < log.LogEnd)
        {
            var before = records.Count;
            log.Read(offset, 10_000, 1 << 24, LogBound.LogEnd, records);
            if (records.Count == before)
            {
                break;
            }

            offset = records[^1].Offset + 1;
        }

        return ([.. records.Select(r => (r.Offset, System.Text.Encoding.UTF8.GetString(r.Body.Span)))], log.HighWatermark);
    }

    private static async Task<long> HighWatermarkAsync(NsqdProcess node, string topic)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var doc = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"{node.HttpBase}/stats?format=json&topic={topic}"));
        var t = doc.RootElement.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("topic_name").GetString() == topic);
        return t.GetProperty("partitions")[0].GetProperty("high_watermark").GetInt64();
    }
}
