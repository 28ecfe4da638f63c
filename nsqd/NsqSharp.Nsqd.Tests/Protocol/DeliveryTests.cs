using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// SUB, RDY flow control, FIN, REQ, TOUCH, attempts and channel fan-out with upstream's states and
/// errors (protocol_v2.go SUB/RDY/FIN/REQ/TOUCH, TestBasicV2, TestMultipleConsumerV2, TestBadFin).
/// </summary>
public sealed class DeliveryTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task MessagePublishedBeforeSubscribeIsDeliveredAfterRdy()
    {
        // upstream TestBasicV2
        var topic = Names.Unique("basic");
        await Nsqd.PublishAsync(topic, "test body");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.ExpectNothingAsync(Quiet); // RDY starts at 0
        await conn.SendAsync("RDY 1");
        var msg = await conn.ExpectMessageAsync();
        Assert.Equal("test body", msg.BodyText);
        Assert.Equal(1, msg.Attempts);
    }

    [Fact(Timeout = 60_000)]
    public async Task SubscribeOkPrecedesTheFirstMessageWhenRdyArrivesInTheSameWrite()
    {
        // The reply to SUB must be on the wire before any message, even when RDY is already buffered
        // behind it and messages are waiting (upstream: 0 of 40 out of order).
        for (var trial = 0; trial < 40; trial++)
        {
            // a fresh topic each time: its first channel starts with everything published so far
            var topic = Names.Unique("subok");
            var body = Enumerable.Range(0, 5).Select(i => Encoding.ASCII.GetBytes("m" + i)).ToList();
            var mpub = await Nsqd.PostAsync($"/mpub?topic={topic}&binary=true", RawConnection.MultiBody(body));
            Assert.Equal(200, mpub.Status);

            await using var conn = await Nsqd.ConnectIdentifiedAsync();
            await conn.WriteAsync(Encoding.ASCII.GetBytes($"SUB {topic} ch\nRDY 10\n"));
            var first = await conn.ReadNonHeartbeatAsync();
            Assert.True(first.Type == Common.Protocol.FrameType.Response && first.Text == "OK", $"trial {trial}: first frame was {first}, not OK");
            var msg = await conn.ExpectMessageAsync();
            Assert.StartsWith("m", msg.BodyText, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task SubscribeWithoutIdentifyIsAllowed()
    {
        var topic = Names.Unique("noident");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        Assert.NotNull(await Nsqd.ChannelStatsAsync(topic, "ch"));
    }

    [Fact(Timeout = 30_000)]
    public async Task SubscribeTwiceIsFatal()
    {
        var topic = Names.Unique("subtwice");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync($"SUB {topic} ch2");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB in current state");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("SUB", "E_INVALID SUB insufficient number of parameters")]
    [InlineData("SUB only_topic", "E_INVALID SUB insufficient number of parameters")]
    [InlineData("SUB bad!topic ch", "E_BAD_TOPIC SUB topic name \"bad!topic\" is not valid")]
    [InlineData("SUB good_topic bad:channel", "E_BAD_CHANNEL SUB channel name \"bad:channel\" is not valid")]
    [InlineData("SUB good_topic ", "E_BAD_CHANNEL SUB channel name \"\" is not valid")]
    [InlineData("SUB good_topic 0123456789012345678901234567890123456789012345678901234#ephemeral",
        "E_BAD_CHANNEL SUB channel name \"0123456789012345678901234567890123456789012345678901234#ephemeral\" is not valid")]
    public async Task BadSubscriptionsAreFatal(string line, string error)
    {
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task SubscribeIsRefusedWhenHeartbeatsAreDisabled()
    {
        // upstream TestClientHeartbeatDisableSUB
        await using var conn = await Nsqd.ConnectIdentifiedAsync("{\"heartbeat_interval\":-1}");
        await conn.SendAsync($"SUB {Names.Unique("nohb")} ch");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB with heartbeats disabled");
    }

    [Fact(Timeout = 30_000)]
    public async Task SubscribeCreatesTopicAndChannel()
    {
        var topic = Names.Unique("subcreate");
        await using var conn = await Nsqd.SubscribeAsync(topic, "created");
        var ch = await Nsqd.ChannelStatsAsync(topic, "created");
        Assert.NotNull(ch);
        Assert.Equal(1, ch.Value.GetProperty("client_count").GetInt32());
    }

    [Fact(Timeout = 30_000)]
    public async Task RdyBoundsTheMessagesInFlight()
    {
        var topic = Names.Unique("rdy");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await using var pub = await Nsqd.ConnectAsync();
        await pub.MultiPublishAsync(topic, Enumerable.Range(0, 5).Select(i => Encoding.ASCII.GetBytes($"m{i}")).ToList());
        await pub.ExpectResponseAsync("OK");

        await conn.SendAsync("RDY 2");
        var first = await conn.ExpectMessageAsync();
        var second = await conn.ExpectMessageAsync();
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 2);

        await conn.SendAsync("FIN " + first.Id);
        var third = await conn.ExpectMessageAsync();
        await conn.ExpectNothingAsync(Quiet);
        Assert.Equal(["m0", "m1", "m2"], new[] { first.BodyText, second.BodyText, third.BodyText });

        // RDY 0 stops delivery even when in-flight slots free up
        await conn.SendAsync("RDY 0");
        await conn.SendAsync("FIN " + second.Id);
        await conn.SendAsync("FIN " + third.Id);
        await conn.ExpectNothingAsync(Quiet);
        await conn.SendAsync("RDY 5");
        Assert.Equal("m3", (await conn.ExpectMessageAsync()).BodyText);
        Assert.Equal("m4", (await conn.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task RdyWithoutCountMeansOne()
    {
        var topic = Names.Unique("rdy1");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await Nsqd.PublishAsync(topic, "a");
        await Nsqd.PublishAsync(topic, "b");
        await conn.SendAsync("RDY");
        await conn.ExpectMessageAsync();
        await conn.ExpectNothingAsync(Quiet);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("RDY 2501", "E_INVALID RDY count 2501 out of range 0-2500")]
    [InlineData("RDY -1", "E_INVALID RDY could not parse count -1")]
    [InlineData("RDY abc", "E_INVALID RDY could not parse count abc")]
    [InlineData("RDY 1.5", "E_INVALID RDY could not parse count 1.5")]
    public async Task BadRdyIsFatal(string line, string error)
    {
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("badrdy"), "ch");
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task RdyWithAnEmptyCountIsZero()
    {
        // upstream's ByteToBase10("") is 0, so "RDY " sets RDY 0 rather than failing
        var topic = Names.Unique("rdyempty");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        // Publish only once nsqd has processed both lines (sent is not yet read: the publish could overtake them).
        async Task<long> ReadyCount() => (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0].GetProperty("ready_count").GetInt64();
        await conn.SendAsync("RDY 3");
        await Wait.UntilAsync(async () => await ReadyCount() == 3, TimeSpan.FromSeconds(5), "ready_count 3");
        await conn.SendAsync("RDY ");
        await Wait.UntilAsync(async () => await ReadyCount() == 0, TimeSpan.FromSeconds(5), "ready_count 0");
        await Nsqd.PublishAsync(topic, "held");
        await conn.ExpectNothingAsync(Quiet);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("RDY 1", "E_INVALID cannot RDY in current state")]
    [InlineData("FIN 0000000000000000", "E_INVALID cannot FIN in current state")]
    [InlineData("REQ 0000000000000000 0", "E_INVALID cannot REQ in current state")]
    [InlineData("TOUCH 0000000000000000", "E_INVALID cannot TOUCH in current state")]
    [InlineData("CLS", "E_INVALID cannot CLS in current state")]
    public async Task ConsumerCommandsBeforeSubscribeAreFatal(string line, string error)
    {
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("FIN", "E_INVALID FIN insufficient number of params")]
    [InlineData("FIN ", "E_INVALID invalid message ID")]
    [InlineData("FIN 123", "E_INVALID invalid message ID")]
    [InlineData("FIN 00000000000000001", "E_INVALID invalid message ID")]
    [InlineData("REQ", "E_INVALID REQ insufficient number of params")]
    [InlineData("REQ 0000000000000000", "E_INVALID REQ insufficient number of params")]
    [InlineData("REQ 123 0", "E_INVALID invalid message ID")]
    [InlineData("REQ 0000000000000000 -1", "E_INVALID REQ could not parse timeout -1")]
    [InlineData("REQ 0000000000000000 later", "E_INVALID REQ could not parse timeout later")]
    [InlineData("TOUCH", "E_INVALID TOUCH insufficient number of params")]
    [InlineData("TOUCH abc", "E_INVALID invalid message ID")]
    public async Task MalformedFinReqTouchAreFatal(string line, string error)
    {
        // upstream TestBadFin
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("badfin"), "ch");
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("FIN {0}", "E_FIN_FAILED FIN {0} failed ID not in flight")]
    [InlineData("REQ {0} 0", "E_REQ_FAILED REQ {0} failed ID not in flight")]
    [InlineData("TOUCH {0}", "E_TOUCH_FAILED TOUCH {0} failed ID not in flight")]
    public async Task UnknownMessageIdsAreNonFatal(string format, string errorFormat)
    {
        foreach (var id in new[] { "0000000000000fff", "zzzzzzzzzzzzzzzz" })
        {
            await using var conn = await Nsqd.SubscribeAsync(Names.Unique("unknown"), "ch");
            await conn.SendAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, format, id));
            await conn.ExpectNonFatalAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, errorFormat, id));
            await conn.SendAsync("RDY 1"); // still a working subscriber
            await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task OnlyTheOwnerMayFinishRequeueOrTouch()
    {
        var topic = Names.Unique("owner");
        await using var a = await Nsqd.SubscribeAsync(topic, "ch");
        await using var b = await Nsqd.SubscribeAsync(topic, "ch");
        await a.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "mine");
        var msg = await a.ExpectMessageAsync();

        await b.SendAsync("FIN " + msg.Id);
        await b.ExpectNonFatalAsync($"E_FIN_FAILED FIN {msg.Id} failed client does not own message");
        await b.SendAsync($"REQ {msg.Id} 0");
        await b.ExpectNonFatalAsync($"E_REQ_FAILED REQ {msg.Id} failed client does not own message");
        await b.SendAsync("TOUCH " + msg.Id);
        await b.ExpectNonFatalAsync($"E_TOUCH_FAILED TOUCH {msg.Id} failed client does not own message");

        await a.SendAsync("FIN " + msg.Id);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        await a.SendAsync("FIN " + msg.Id);
        await a.ExpectNonFatalAsync($"E_FIN_FAILED FIN {msg.Id} failed ID not in flight");
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueRedeliversWithIncrementedAttempts()
    {
        var topic = Names.Unique("req");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "again");
        var first = await conn.ExpectMessageAsync();
        Assert.Equal(1, first.Attempts);
        for (ushort attempt = 2; attempt <= 4; attempt++)
        {
            await conn.SendAsync($"REQ {first.Id} 0");
            var again = await conn.ExpectMessageAsync();
            Assert.Equal(first.Id, again.Id);
            Assert.Equal(first.TimestampNs, again.TimestampNs);
            Assert.Equal("again", again.BodyText);
            Assert.Equal(attempt, again.Attempts);
        }

        var ch = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value;
        Assert.Equal(3, ch.GetProperty("requeue_count").GetInt64());
        Assert.Equal(3, ch.GetProperty("clients")[0].GetProperty("requeue_count").GetInt64());
        Assert.Equal(4, ch.GetProperty("clients")[0].GetProperty("message_count").GetInt64()); // deliveries to the client

        // upstream's channel message_count counts messages put into the channel, not redeliveries
        Assert.Equal(1, ch.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task ChannelMessageCountCountsMessagesEnteringTheChannel()
    {
        // upstream Channel.PutMessage/PutMessageDeferred increment message_count when the topic hands
        // a message over, before any consumer reads it (TestDPUB checks it right after DPUB)
        var topic = Names.Unique("chcount");
        await Nsqd.PostAsync($"/topic/create?topic={topic}");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch");
        await Nsqd.PublishAsync(topic, "a");
        await Nsqd.PublishAsync(topic, "b");
        await Nsqd.PostAsync($"/pub?topic={topic}&defer=60000", "deferred");
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 2);
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);
        Assert.Equal(3, (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueWithDelayDefersTheMessage()
    {
        var topic = Names.Unique("reqdelay");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "later");
        var msg = await conn.ExpectMessageAsync();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await conn.SendAsync($"REQ {msg.Id} 800");
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);
        Assert.Equal(0, (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("in_flight_count").GetInt64());
        var again = await conn.ExpectMessageAsync(TimeSpan.FromSeconds(10));
        Assert.True(watch.ElapsedMilliseconds >= 700, $"redelivered after {watch.ElapsedMilliseconds}ms, before its 800ms delay");
        Assert.Equal(2, again.Attempts);
        Assert.Equal(msg.Id, again.Id);
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueBeyondTheMaximumIsClampedNotRejected()
    {
        // max-req-timeout is 1h: REQ of 2h is accepted and deferred (upstream TestReqTimeoutRange)
        var topic = Names.Unique("reqclamp");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "far future");
        var msg = await conn.ExpectMessageAsync();
        await conn.SendAsync($"REQ {msg.Id} 7200000");
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);
    }

    [Fact(Timeout = 30_000)]
    public async Task EveryChannelGetsACopyOfEachMessage()
    {
        // upstream TestMultipleConsumerV2
        var topic = Names.Unique("fanout");
        await Nsqd.PostAsync($"/topic/create?topic={topic}");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch1");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch2");
        await Nsqd.PublishAsync(topic, "test body");

        await using var c1 = await Nsqd.SubscribeAsync(topic, "ch1");
        await using var c2 = await Nsqd.SubscribeAsync(topic, "ch2");
        await c1.SendAsync("RDY 1");
        await c2.SendAsync("RDY 1");
        var m1 = await c1.ExpectMessageAsync();
        var m2 = await c2.ExpectMessageAsync();
        Assert.Equal(m1.Id, m2.Id);
        Assert.Equal(m1.TimestampNs, m2.TimestampNs);
        Assert.Equal("test body", m1.BodyText);
        Assert.Equal("test body", m2.BodyText);
        Assert.Equal(1, m1.Attempts);
        Assert.Equal(1, m2.Attempts);
    }

    [Fact(Timeout = 30_000)]
    public async Task ConsumersOfOneChannelShareItsMessages()
    {
        var topic = Names.Unique("share");
        await using var a = await Nsqd.SubscribeAsync(topic, "ch");
        await using var b = await Nsqd.SubscribeAsync(topic, "ch");
        await a.SendAsync("RDY 100");
        await b.SendAsync("RDY 100");
        await using var pub = await Nsqd.ConnectAsync();
        await pub.MultiPublishAsync(topic, Enumerable.Range(0, 40).Select(i => Encoding.ASCII.GetBytes($"m{i}")).ToList());
        await pub.ExpectResponseAsync("OK");

        var seen = new HashSet<string>();
        await Wait.UntilAsync(async () =>
        {
            foreach (var conn in new[] { a, b })
            {
                try
                {
                    var msg = await conn.ExpectMessageAsync(TimeSpan.FromMilliseconds(50));
                    Assert.True(seen.Add(msg.BodyText), $"{msg.BodyText} was delivered twice");
                    await conn.SendAsync("FIN " + msg.Id);
                }
                catch (TimeoutException)
                {
                }
            }

            return seen.Count == 40;
        }, TimeSpan.FromSeconds(15), "all 40 messages consumed");
        await a.ExpectNothingAsync(Quiet);
        await b.ExpectNothingAsync(TimeSpan.FromMilliseconds(50));
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 0);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task FinishedMessagesAreCountedAndGone()
    {
        var topic = Names.Unique("fin");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 10");
        for (var i = 0; i < 3; i++)
        {
            await Nsqd.PublishAsync(topic, $"m{i}");
        }

        for (var i = 0; i < 3; i++)
        {
            var msg = await conn.ExpectMessageAsync();
            await conn.SendAsync("FIN " + msg.Id);
        }

        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        var ch = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value;
        Assert.Equal(0, ch.GetProperty("depth").GetInt64());
        Assert.Equal(3, ch.GetProperty("message_count").GetInt64());
        Assert.Equal(3, ch.GetProperty("clients")[0].GetProperty("finish_count").GetInt64());
        await conn.ExpectNothingAsync(Quiet);
    }

    [Fact(Timeout = 30_000)]
    public async Task ClsAnswersCloseWaitAndStopsDelivery()
    {
        var topic = Names.Unique("cls");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 5");
        await Nsqd.PublishAsync(topic, "in flight");
        var msg = await conn.ExpectMessageAsync();

        await conn.SendAsync("CLS");
        await conn.ExpectResponseAsync("CLOSE_WAIT");
        await conn.SendAsync("RDY 10"); // ignored while closing, not an error
        await Nsqd.PublishAsync(topic, "not for a closing client");
        await conn.ExpectNothingAsync(Quiet);

        // in-flight messages may still be finished after CLS
        await conn.SendAsync("FIN " + msg.Id);
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(100));
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        var client = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.Equal(4, client.GetProperty("state").GetInt32());
        Assert.Equal(0, client.GetProperty("ready_count").GetInt64());

        await conn.SendAsync("CLS");
        await conn.ExpectFatalAsync("E_INVALID cannot CLS in current state");
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueAndTouchStillWorkAfterCls()
    {
        var topic = Names.Unique("clsreq");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 2");
        await Nsqd.PublishAsync(topic, "a");
        await Nsqd.PublishAsync(topic, "b");
        var a = await conn.ExpectMessageAsync();
        var b = await conn.ExpectMessageAsync();
        await conn.SendAsync("CLS");
        await conn.ExpectResponseAsync("CLOSE_WAIT");
        await conn.SendAsync("TOUCH " + a.Id);
        await conn.SendAsync($"REQ {a.Id} 0");
        await conn.SendAsync("FIN " + b.Id);
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);

        // the requeued message goes to the next consumer
        await using var next = await Nsqd.SubscribeAsync(topic, "ch");
        await next.SendAsync("RDY 1");
        var again = await next.ExpectMessageAsync();
        Assert.Equal(a.Id, again.Id);
        Assert.Equal(2, again.Attempts);
    }

    [Fact(Timeout = 30_000)]
    public async Task MessagesOfADisconnectedConsumerGoToAnother()
    {
        var topic = Names.Unique("disconnect");
        await using var survivor = await Nsqd.SubscribeAsync(topic, "ch");
        NsqMessage held;
        await using (var leaving = await Nsqd.SubscribeAsync(topic, "ch", "{\"msg_timeout\":2000}"))
        {
            await leaving.SendAsync("RDY 1");
            await Nsqd.PublishAsync(topic, "orphan");
            held = await leaving.ExpectMessageAsync();
        }

        await survivor.SendAsync("RDY 1");
        var again = await survivor.ExpectMessageAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(held.Id, again.Id);
        Assert.Equal("orphan", again.BodyText);
        Assert.Equal(2, again.Attempts);
    }

    [Fact(Timeout = 30_000)]
    public async Task FirstChannelGetsTheBacklogLaterChannelsStartAtTheEnd()
    {
        var topic = Names.Unique("backlog");
        await Nsqd.PublishAsync(topic, "before any channel");
        var t = (await Nsqd.TopicStatsAsync(topic))!.Value;
        Assert.Equal(1, t.GetProperty("depth").GetInt64());

        await using var first = await Nsqd.SubscribeAsync(topic, "first");
        await first.SendAsync("RDY 5");
        Assert.Equal("before any channel", (await first.ExpectMessageAsync()).BodyText);

        await using var late = await Nsqd.SubscribeAsync(topic, "late");
        await late.SendAsync("RDY 5");
        await late.ExpectNothingAsync(Quiet);
        await Nsqd.PublishAsync(topic, "after both");
        Assert.Equal("after both", (await late.ExpectMessageAsync()).BodyText);
        Assert.Equal("after both", (await first.ExpectMessageAsync()).BodyText);
    }
}
