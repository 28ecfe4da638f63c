using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// Retention through the broker: segments go once every channel has consumed them, never past the
/// slowest channel's ack floor, unless the hard size limit forces it (then channels skip ahead).
/// </summary>
public sealed class RetentionTests
{
    private static readonly byte[] Body = new byte[100];

    [Fact(Timeout = 60_000)]
    public async Task SizeRetentionNeverDeletesPastTheSlowestChannel()
    {
        using var dir = new TempDirectory("retention");
        await using var broker = Start(dir, new NsqdOptions { MaxBytesPerFile = 4096, RetentionBytes = 1, RetentionAge = TimeSpan.Zero });
        var topic = broker.GetOrCreateTopic("t");
        var fast = topic.GetOrCreateChannel("fast", StartPosition.Oldest);
        var slow = topic.GetOrCreateChannel("slow", StartPosition.Oldest);
        await PublishAsync(topic, 1000);

        var consumer = new TestConsumer(1);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), await ConsumeAsync(fast, consumer, 1000));
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), await ConsumeAsync(slow, consumer, 300));

        EnforceTwice(broker, topic);
        var log = topic.Partitions[0];
        Assert.True(log.StartOffset > 0, "segments every channel consumed should be deleted");
        Assert.True(log.StartOffset <= 300, $"deleted past the slow channel's ack floor: start {log.StartOffset}");
        Assert.Equal(0, log.HardLimitDeletedMessages);
        Assert.Equal(Enumerable.Range(300, 700).Select(i => (long)i), await ConsumeAsync(slow, consumer, 700));
    }

    [Fact(Timeout = 60_000)]
    public async Task RetentionIsPerPartitionAndFollowsEachPartitionsAckFloor()
    {
        using var dir = new TempDirectory("retention");
        await using var broker = Start(dir, new NsqdOptions { MaxBytesPerFile = 4096, RetentionBytes = 1, RetentionAge = TimeSpan.Zero });
        var topic = broker.GetOrCreateTopic("t", partitions: 2);
        var channel = topic.GetOrCreateChannel("c", StartPosition.Oldest);
        await PublishAsync(topic, 1000); // round robin: 500 per partition
        var consumer = new TestConsumer(1);

        // Consume everything, then replay nothing: every segment but each active one may go.
        Assert.Equal(1000, (await ConsumeAsync(channel, consumer, 1000)).Count);
        EnforceTwice(broker, topic);
        foreach (var log in topic.Partitions)
        {
            Assert.True(log.StartOffset > 0, $"partition {log.Partition}: consumed segments should be deleted");
            Assert.Equal(topic.MinAckFloor(log.Partition), channel.AckFloor(log.Partition));
        }

        Assert.Equal(0, topic.Partitions.Sum(l => l.HardLimitDeletedMessages));
    }

    [Fact(Timeout = 60_000)]
    public async Task TopicWithoutChannelsKeepsEverything()
    {
        using var dir = new TempDirectory("retention");
        await using var broker = Start(dir, new NsqdOptions { MaxBytesPerFile = 4096, RetentionBytes = 1, RetentionAge = TimeSpan.Zero });
        var topic = broker.GetOrCreateTopic("t");
        await PublishAsync(topic, 500);

        EnforceTwice(broker, topic);
        Assert.Equal(0, topic.Partitions[0].StartOffset);
        Assert.Equal(500, topic.Depth);
    }

    [Fact(Timeout = 60_000)]
    public async Task HardLimitDeletesUnconsumedDataCountsItAndChannelsSkipAhead()
    {
        using var dir = new TempDirectory("retention");
        // A small read-ahead, so most of the backlog is only on disk when the hard limit strikes.
        await using var broker = Start(dir, new NsqdOptions { MaxBytesPerFile = 4096, HardLimitBytes = 16 * 1024, RetentionAge = TimeSpan.Zero, MemQueueSize = 64 });
        var topic = broker.GetOrCreateTopic("t");
        var idle = topic.GetOrCreateChannel("idle", StartPosition.Oldest);
        await PublishAsync(topic, 1000);

        EnforceTwice(broker, topic);
        var log = topic.Partitions[0];
        Assert.True(log.StartOffset > 0, "the hard limit must delete even unconsumed segments");
        Assert.True(log.HardLimitDeletedMessages > 0, "unconsumed deletions must be counted");
        Assert.True(log.SizeBytes <= 16 * 1024 + 4096, $"still {log.SizeBytes} bytes retained");

        // What the channel had already read ahead is still delivered; then it skips to what is retained,
        // in order, through to the newest message.
        var delivered = await ConsumeAsync(idle, new TestConsumer(1), 1000, allowFewer: true);
        Assert.Equal(delivered.OrderBy(o => o), delivered);
        Assert.True(delivered.Count < 1000, "deleted messages cannot have been delivered");
        Assert.Equal(Enumerable.Range((int)log.StartOffset, (int)(1000 - log.StartOffset)).Select(i => (long)i), delivered.Where(o => o >= log.StartOffset));
    }

    private static BrokerNode Start(TempDirectory dir, NsqdOptions options)
    {
        options.DataPath = dir.Path;
        var broker = new BrokerNode(options, NullLoggerFactory.Instance);
        broker.Start();
        return broker;
    }

    private static async Task PublishAsync(Topic topic, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await topic.PublishAsync(Body, 0);
        }
    }

    /// <summary>The first pass may only roll the active segment; the second deletes it.</summary>
    private static void EnforceTwice(BrokerNode broker, Topic topic)
    {
        broker.EnforceRetention(topic);
        broker.EnforceRetention(topic);
    }

    /// <summary>Takes and finishes messages until count were delivered (or, with allowFewer, until none come for a while).</summary>
    private static async Task<List<long>> ConsumeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer, int count, bool allowFewer = false)
    {
        var offsets = new List<long>(count);
        while (offsets.Count < count)
        {
            if (channel.TryTake(consumer, 60_000, out var delivery, out _))
            {
                offsets.Add(delivery.Offset);
                Assert.Null(channel.Finish(consumer, new MessageId(delivery.Partition, delivery.Offset)));
                continue;
            }

            using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(allowFewer ? 1 : 10));
            try
            {
                await consumer.Woken.WaitAsync(quiet.Token);
            }
            catch (OperationCanceledException) when (allowFewer)
            {
                break;
            }
        }

        return offsets;
    }
}
