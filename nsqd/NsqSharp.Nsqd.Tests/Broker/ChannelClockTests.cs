using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Common.Protocol;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// Channel timers on a fake clock (NsqdOptions.Time): in-flight timeouts, TOUCH and its cap, REQ delays and
/// DPUB due times happen exactly when the clock says, not a moment before. Timers are run by calling the
/// housekeeping step directly, so nothing here depends on how fast the machine is.
/// </summary>
public sealed class ChannelClockTests
{
    private static readonly byte[] Body = "x"u8.ToArray();

    [Fact(Timeout = 60_000)]
    public async Task InFlightMessageTimesOutExactlyAtItsDeadline()
    {
        var (dir, time, broker) = Start();
        await using var brokerScope = broker;
        using var dirScope = dir;
        var channel = broker.GetOrCreateTopic("t").GetOrCreateChannel("c");
        await broker.GetOrCreateTopic("t").PublishAsync(Body, 0);
        var consumer = new TestConsumer(7);
        var first = await TakeAsync(channel, consumer, timeoutMs: 60_000);
        Assert.Equal(1, first.Attempts);

        time.Advance(TimeSpan.FromMilliseconds(59_999));
        channel.ProcessTimers();
        Assert.Equal(1, channel.InFlightCount);
        Assert.Equal(0, channel.TimeoutCount);

        time.Advance(TimeSpan.FromMilliseconds(1));
        channel.ProcessTimers();
        Assert.Equal(0, channel.InFlightCount);
        Assert.Equal(1, channel.TimeoutCount);
        await WaitUntilAsync(() => consumer.Released == 1); // the housekeeping tick may be the one that released it

        var again = await TakeAsync(channel, consumer, timeoutMs: 60_000);
        Assert.Equal(first.Offset, again.Offset);
        Assert.Equal(2, again.Attempts);
    }

    [Fact(Timeout = 60_000)]
    public async Task TouchExtendsTheDeadlineButNotPastMaxMsgTimeout()
    {
        var (dir, time, broker) = Start();
        await using var brokerScope = broker;
        using var dirScope = dir;
        var topic = broker.GetOrCreateTopic("t");
        var channel = topic.GetOrCreateChannel("c");
        await topic.PublishAsync(Body, 0);
        var consumer = new TestConsumer(7);
        var m = await TakeAsync(channel, consumer, timeoutMs: 10_000);
        var id = new MessageId(m.Partition, m.Offset);

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Null(channel.Touch(consumer, id, timeoutMs: 10_000, maxTimeoutMs: 15_000)); // deadline: 9 + 10 = 19 s, capped at 15 s
        time.Advance(TimeSpan.FromMilliseconds(5_999));
        channel.ProcessTimers();
        Assert.Equal(1, channel.InFlightCount);

        time.Advance(TimeSpan.FromMilliseconds(1));
        channel.ProcessTimers();
        Assert.Equal(0, channel.InFlightCount);
        Assert.Equal(1, channel.TimeoutCount);
    }

    [Fact(Timeout = 60_000)]
    public async Task RequeueDelayAndDeferredPublishWaitForTheClock()
    {
        var (dir, time, broker) = Start();
        await using var brokerScope = broker;
        using var dirScope = dir;
        var topic = broker.GetOrCreateTopic("t");
        var channel = topic.GetOrCreateChannel("c");
        var consumer = new TestConsumer(7);

        // DPUB 30 s: deferred until the clock reaches it.
        await topic.PublishAsync(Body, deferMs: 30_000);
        await WaitUntilAsync(() => channel.DeferredCount == 1);
        time.Advance(TimeSpan.FromMilliseconds(29_999));
        channel.ProcessTimers();
        Assert.False(channel.TryTake(consumer, 60_000, out _, out _));
        Assert.Equal(1, channel.DeferredCount);
        time.Advance(TimeSpan.FromMilliseconds(1));
        channel.ProcessTimers();
        var m = await TakeAsync(channel, consumer, timeoutMs: 60_000);

        // REQ with 5 s: back after exactly 5 s.
        Assert.Null(channel.Requeue(consumer, new MessageId(m.Partition, m.Offset), delayMs: 5_000));
        Assert.Equal(1, channel.DeferredCount);
        time.Advance(TimeSpan.FromMilliseconds(4_999));
        channel.ProcessTimers();
        Assert.False(channel.TryTake(consumer, 60_000, out _, out _));
        time.Advance(TimeSpan.FromMilliseconds(1));
        channel.ProcessTimers();
        var back = await TakeAsync(channel, consumer, timeoutMs: 60_000);
        Assert.Equal(m.Offset, back.Offset);
        Assert.Equal(2, back.Attempts);
    }

    private static (TempDirectory Dir, FakeTimeProvider Time, BrokerNode Broker) Start()
    {
        var dir = new TempDirectory("clock");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time }, NullLoggerFactory.Instance);
        broker.Start();
        return (dir, time, broker);
    }

    /// <summary>Takes the next message, waiting (on the channel's wake-up, not the clock) for the fill loop to queue it.</summary>
    private static async Task<(int Partition, long Offset, ushort Attempts)> TakeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer, long timeoutMs)
    {
        while (true)
        {
            if (channel.TryTake(consumer, timeoutMs, out var delivery, out var attempts))
            {
                return (delivery.Partition, delivery.Offset, attempts);
            }

            await consumer.Woken.WaitAsync(CancellationToken.None);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(5);
        }
    }
}
