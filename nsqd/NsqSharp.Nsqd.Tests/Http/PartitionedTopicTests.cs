using System.Globalization;
using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// Topics with several partitions in standalone mode (extension: /topic/create?partitions=P, --topic-partitions,
/// /channel/seek?partition=N): publishes spread over the partitions, channels consume all of them, FIN/REQ/TOUCH
/// find a message by its id (partition in the top 16 bits), restart keeps partitions and cursors, and stats and
/// metrics report each partition.
/// </summary>
public sealed class PartitionedTopicTests
{
    private const int T = 120_000;

    private static int PartitionOf(string id) => int.Parse(id[..4], NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [Fact(Timeout = T)]
    public async Task PublishesSpreadOverPartitionsAndAChannelConsumesAll()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("parts");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=4")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch")).Status);
        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            for (var i = 0; i < 100; i++)
            {
                await pub.PublishAsync(topic, $"m{i}");
                await pub.ExpectResponseAsync("OK");
            }

            await pub.MultiPublishAsync(topic, Enumerable.Range(100, 100).Select(i => Encoding.UTF8.GetBytes($"m{i}")).ToList());
            await pub.ExpectResponseAsync("OK");
        }

        var partitions = (await nsqd.TopicStatsAsync(topic))!.Value.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], partitions.Select(p => p.GetProperty("partition").GetInt32()));
        Assert.Equal(200, partitions.Sum(p => p.GetProperty("end_offset").GetInt64()));
        Assert.All(partitions, p => Assert.True(p.GetProperty("end_offset").GetInt64() > 0, "every partition got messages"));

        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 50");
        var bodies = new HashSet<string>();
        var seenPartitions = new HashSet<int>();
        while (bodies.Count < 200)
        {
            var m = await sub.ExpectMessageAsync();
            Assert.True(bodies.Add(m.BodyText), $"{m.BodyText} delivered twice");
            seenPartitions.Add(PartitionOf(m.Id));
            await sub.SendAsync("FIN " + m.Id);
        }

        Assert.Equal([0, 1, 2, 3], seenPartitions.Order());
        await nsqd.WaitForChannelAsync(topic, "ch", "depth", 0);
        await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);

        var metrics = (await nsqd.GetAsync("/metrics")).Body;
        for (var p = 0; p < 4; p++)
        {
            Assert.Contains($"nsqd_partition_end_offset{{partition=\"{p}\",topic=\"{topic}\"}}", metrics, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = T)]
    public async Task FinReqAndTouchFindMessagesOfEveryPartition()
    {
        await using var nsqd = await NsqdInstance.StartAsync(["--topic-partitions=3"]);
        var topic = Names.Unique("partids");
        await using var sub = await nsqd.SubscribeAsync(topic, "ch"); // SUB creates the topic with 3 partitions
        for (var i = 0; i < 30; i++)
        {
            await nsqd.PublishAsync(topic, $"m{i}");
        }

        await sub.SendAsync("RDY 30");
        var messages = new List<NsqMessage>();
        for (var i = 0; i < 30; i++)
        {
            messages.Add(await sub.ExpectMessageAsync());
        }

        Assert.Equal([0, 1, 2], messages.Select(m => PartitionOf(m.Id)).Distinct().Order());
        var requeued = messages.GroupBy(m => PartitionOf(m.Id)).Select(g => g.First()).ToList();
        foreach (var m in requeued)
        {
            await sub.SendAsync("TOUCH " + m.Id);
            await sub.SendAsync($"REQ {m.Id} 0");
        }

        foreach (var m in messages.Except(requeued))
        {
            await sub.SendAsync("FIN " + m.Id);
        }

        var again = new List<NsqMessage>();
        for (var i = 0; i < requeued.Count; i++)
        {
            again.Add(await sub.ExpectMessageAsync());
        }

        Assert.Equal(requeued.Select(m => m.Id).Order(), again.Select(m => m.Id).Order());
        Assert.All(again, m => Assert.Equal(2, m.Attempts));
        foreach (var m in again)
        {
            await sub.SendAsync("FIN " + m.Id);
        }

        await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        Assert.Equal(0, (await nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("depth").GetInt64());
        Assert.Equal(3, (await nsqd.TopicStatsAsync(topic))!.Value.GetProperty("partitions").GetArrayLength());
    }

    [Fact(Timeout = T)]
    public async Task RestartKeepsPartitionsAndEveryPartitionsCursor()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("partrestart");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=3")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch")).Status);
        for (var i = 0; i < 60; i++)
        {
            await nsqd.PublishAsync(topic, $"m{i}");
        }

        var finished = new HashSet<string>();
        await using (var sub = await nsqd.SubscribeAsync(topic, "ch"))
        {
            await sub.SendAsync("RDY 20");
            var taken = new List<NsqMessage>();
            for (var i = 0; i < 20; i++)
            {
                taken.Add(await sub.ExpectMessageAsync());
            }

            await sub.SendAsync("RDY 0"); // before the FINs free slots for more
            foreach (var m in taken)
            {
                finished.Add(m.BodyText);
                await sub.SendAsync("FIN " + m.Id);
            }

            await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        }

        Assert.True(nsqd.Process.Process.Terminate(TimeSpan.FromSeconds(20)), "nsqd did not stop on SIGTERM");
        await nsqd.Process.RestartAsync();

        Assert.Equal(3, (await nsqd.TopicStatsAsync(topic))!.Value.GetProperty("partitions").GetArrayLength());
        await using var again = await nsqd.SubscribeAsync(topic, "ch");
        await again.SendAsync("RDY 60");
        var rest = new HashSet<string>();
        while (rest.Count < 40)
        {
            var m = await again.ExpectMessageAsync();
            Assert.DoesNotContain(m.BodyText, finished);
            rest.Add(m.BodyText);
            await again.SendAsync("FIN " + m.Id);
        }

        await again.ExpectNothingAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact(Timeout = T)]
    public async Task SeekMovesOnePartitionOrAll()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("partseek");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=2")).Status);
        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        for (var i = 0; i < 20; i++)
        {
            await nsqd.PublishAsync(topic, $"m{i}");
        }

        await sub.SendAsync("RDY 20");
        var first = await DrainAsync(sub, 20);
        var inPartition1 = first.Count(p => p == 1);
        await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0); // the FINs are processed before the seek

        Assert.Equal(200, (await nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=oldest&partition=1")).Status);
        var replayed = await DrainAsync(sub, inPartition1);
        Assert.All(replayed, p => Assert.Equal(1, p));
        await sub.ExpectNothingAsync(TimeSpan.FromMilliseconds(300));
        await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);

        Assert.Equal(200, (await nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=oldest")).Status);
        Assert.Equal(20, (await DrainAsync(sub, 20)).Count);

        Assert.Equal(404, (await nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=oldest&partition=7")).Status);
        Assert.Equal(400, (await nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=oldest&partition=x")).Status);
    }

    [Fact(Timeout = T)]
    public async Task PartitionsArgumentIsValidated()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("partargs");
        foreach (var bad in new[] { "0", "-1", "1025", "x", "" })
        {
            var reply = await nsqd.PostAsync($"/topic/create?topic={topic}&partitions={bad}");
            Assert.Equal(400, reply.Status);
            Assert.Equal("INVALID_ARG_PARTITIONS", reply.Message);
        }

        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=2")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=2")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}")).Status);
        var mismatch = await nsqd.PostAsync($"/topic/create?topic={topic}&partitions=3");
        Assert.Equal(409, mismatch.Status);
        Assert.Equal("TOPIC_EXISTS_WITH_DIFFERENT_PARTITIONS", mismatch.Message);
    }

    private static async Task<List<int>> DrainAsync(RawConnection sub, int count)
    {
        var partitions = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var m = await sub.ExpectMessageAsync();
            partitions.Add(PartitionOf(m.Id));
            await sub.SendAsync("FIN " + m.Id);
        }

        return partitions;
    }
}
