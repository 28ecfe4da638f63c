using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Testing;
using Xunit;
using BrokerNode = NsqSharp.Nsqd.Broker.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// The broker's cluster seam (Broker.Roles): publishes go only to leading partitions with enough replicas, wait for
/// the high watermark (which the replication leader owns) up to the bound, and only a leader's cursor delivers; a
/// partition that stops leading drops its subscribers with E_NOT_LEADER.
/// </summary>
public sealed class PartitionRolesTests
{
    private static readonly byte[] Body = "x"u8.ToArray();

    [Fact(Timeout = 60_000)]
    public async Task PublishesGoOnlyToLeadingPartitions_AndFailWithNotLeaderWhenNoneLeads()
    {
        var (dir, _, broker, roles) = Start();
        await using var scope = broker;
        using var dirScope = dir;
        var topic = await broker.GetOrCreateTopicAsync("t", [2, 5]);
        Assert.Equal([2, 5], topic.PartitionIds);
        roles.Lead("t", 5);
        var publishes = Enumerable.Range(0, 10).Select(_ => topic.PublishAsync(Body, 0).AsTask()).ToArray();
        topic.TryGetPartition(5, out var five);
        await WaitUntilAsync(() => five.LogEnd == 10);
        five.AdvanceHighWatermark(10); // what the replication leader does once the ISR has them
        await Task.WhenAll(publishes);
        topic.TryGetPartition(2, out var two);
        Assert.Equal(0, two.LogEnd);

        roles.Follow("t", 5);
        await Assert.ThrowsAsync<NotLeaderException>(() => topic.PublishAsync(Body, 0).AsTask());
    }

    [Fact(Timeout = 60_000)]
    public async Task APublishTheReplicasDoNotConfirmFailsAtTheBound()
    {
        var (dir, time, broker, roles) = Start();
        await using var scope = broker;
        using var dirScope = dir;
        var topic = await broker.GetOrCreateTopicAsync("t", [0]);
        roles.Lead("t", 0);
        var publish = topic.PublishAsync(Body, 0).AsTask();
        topic.TryGetPartition(0, out var log);
        await WaitUntilAsync(() => log.LogEnd == 1);
        time.Advance(broker.Options.ReplicatedAckTimeout - TimeSpan.FromMilliseconds(1));
        await Task.Delay(50);
        Assert.False(publish.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await Assert.ThrowsAsync<NotEnoughReplicasException>(() => publish);
    }

    [Fact(Timeout = 60_000)]
    public async Task OnlyALeadersCursorDelivers_AndLosingLeadershipDropsSubscribers()
    {
        var (dir, _, broker, roles) = Start();
        await using var scope = broker;
        using var dirScope = dir;
        var topic = await broker.GetOrCreateTopicAsync("t", [0, 1]);
        var channel = topic.GetOrCreateChannel("c");
        var consumer = new TestConsumer(9);
        Assert.Null(channel.AddClient(consumer, 0));

        // Both partitions hold one committed message each (as copied by a follower: HW advanced by replication).
        foreach (var id in new[] { 0, 1 })
        {
            roles.Lead("t", id);
            roles.Follow("t", 1 - id); // one leading partition at a time: the publish lands on it
            var p = topic.PublishAsync(Body, 0).AsTask();
            topic.TryGetPartition(id, out var log);
            await WaitUntilAsync(() => log.LogEnd == 1);
            log.AdvanceHighWatermark(1);
            await p;
        }

        roles.Lead("t", 1);
        roles.Follow("t", 0);
        broker.OnPartitionRoleChanged("t", 0);
        Assert.Single(consumer.Closed); // a partition stopped leading: subscribers look the topic up again
        Assert.StartsWith("E_NOT_LEADER", consumer.Closed.Single(), StringComparison.Ordinal);

        var taken = await TakeAsync(channel, consumer);
        Assert.Equal(1, taken.Partition);
        await Task.Delay(200);
        Assert.False(channel.TryTake(consumer, 60_000, out _, out _)); // partition 0's message is the leader's to deliver

        roles.Lead("t", 0);
        broker.OnPartitionRoleChanged("t", 0);
        Assert.Equal(0, (await TakeAsync(channel, consumer)).Partition);
    }

    private static (TempDirectory Dir, FakeTimeProvider Time, BrokerNode Broker, FakeRoles Roles) Start()
    {
        var dir = new TempDirectory("roles");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var roles = new FakeRoles();
        var broker = new BrokerNode(new NsqdOptions { DataPath = dir.Path, Time = time, Replicated = true }, NullLoggerFactory.Instance) { Roles = roles };
        broker.Start();
        return (dir, time, broker, roles);
    }

    private static async Task<Delivery> TakeAsync(Nsqd.Broker.Channel channel, TestConsumer consumer)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (channel.TryTake(consumer, 60_000, out var delivery, out _))
            {
                return delivery;
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
