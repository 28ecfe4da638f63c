using System.Diagnostics;
using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Channel and topic behaviour seen by consumers: pause/unpause (TestPausing), ephemeral topics and
/// channels, sampling (TestSampling) and output buffering (TestOutputBuffering).
/// </summary>
public sealed class ChannelBehaviourTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task PausedChannelDeliversNothingUntilUnpaused()
    {
        var topic = Names.Unique("chpause");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 10");
        await Nsqd.PublishAsync(topic, "test body");
        var first = await conn.ExpectMessageAsync();
        await conn.SendAsync("FIN " + first.Id);

        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/pause?topic={topic}&channel=ch")).Status);
        Assert.True((await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("paused").GetBoolean());
        await Nsqd.PublishAsync(topic, "test body2");
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 1);

        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/unpause?topic={topic}&channel=ch")).Status);
        Assert.Equal("test body2", (await conn.ExpectMessageAsync()).BodyText);
        await Nsqd.PublishAsync(topic, "test body3");
        Assert.Equal("test body3", (await conn.ExpectMessageAsync()).BodyText);
        Assert.False((await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("paused").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task PausedTopicHoldsMessagesForEveryChannel()
    {
        var topic = Names.Unique("tpause");
        await using var a = await Nsqd.SubscribeAsync(topic, "a");
        await using var b = await Nsqd.SubscribeAsync(topic, "b");
        await a.SendAsync("RDY 10");
        await b.SendAsync("RDY 10");
        Assert.Equal(200, (await Nsqd.PostAsync($"/topic/pause?topic={topic}")).Status);
        Assert.True((await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("paused").GetBoolean());
        await Nsqd.PublishAsync(topic, "held");
        await a.ExpectNothingAsync(Quiet);
        await b.ExpectNothingAsync(TimeSpan.FromMilliseconds(50));

        Assert.Equal(200, (await Nsqd.PostAsync($"/topic/unpause?topic={topic}")).Status);
        Assert.Equal("held", (await a.ExpectMessageAsync()).BodyText);
        Assert.Equal("held", (await b.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task EphemeralChannelGoesAwayWithItsLastClient()
    {
        var topic = Names.Unique("ephch");
        await using (var conn = await Nsqd.SubscribeAsync(topic, "tmp#ephemeral"))
        {
            await conn.SendAsync("RDY 1");
            await Nsqd.PublishAsync(topic, "for the ephemeral channel");
            Assert.Equal("for the ephemeral channel", (await conn.ExpectMessageAsync()).BodyText);
            Assert.NotNull(await Nsqd.ChannelStatsAsync(topic, "tmp#ephemeral"));
        }

        await Wait.UntilAsync(async () => await Nsqd.ChannelStatsAsync(topic, "tmp#ephemeral") == null,
            TimeSpan.FromSeconds(5), "ephemeral channel deleted");
        Assert.NotNull(await Nsqd.TopicStatsAsync(topic)); // a normal topic stays
    }

    [Fact(Timeout = 30_000)]
    public async Task EphemeralTopicGoesAwayWithItsLastChannel()
    {
        var topic = Names.Unique("ephtopic") + "#ephemeral";
        await using (var conn = await Nsqd.SubscribeAsync(topic, "ch#ephemeral"))
        {
            await conn.SendAsync("RDY 1");
            await Nsqd.PublishAsync(topic, "fleeting");
            Assert.Equal("fleeting", (await conn.ExpectMessageAsync()).BodyText);
        }

        await Wait.UntilAsync(async () => await Nsqd.TopicStatsAsync(topic) == null, TimeSpan.FromSeconds(5), "ephemeral topic deleted");
        var directory = Path.Combine(Nsqd.DataPath, "ephemeral", topic);
        await Wait.UntilAsync(() => !Directory.Exists(directory), TimeSpan.FromSeconds(5), "ephemeral topic files removed");

        // and it can be used again afterwards
        await using var again = await Nsqd.SubscribeAsync(topic, "ch#ephemeral");
        await again.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "second life");
        Assert.Equal("second life", (await again.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task EphemeralTopicCanBeResubscribedRightAfterItsLastConsumerLeft()
    {
        // consumers that reconnect at once (go-nsq does) must not lose the race with the deletion
        // of the ephemeral topic they just emptied
        var topic = Names.Unique("ephrace") + "#ephemeral";
        for (var i = 0; i < 30; i++)
        {
            await using var conn = await Nsqd.ConnectIdentifiedAsync();
            await conn.SendAsync($"SUB {topic} ch#ephemeral");
            var frame = await conn.ReadFrameAsync();
            Assert.True(frame.Type == Common.Protocol.FrameType.Response && frame.Text == "OK", $"SUB #{i} got {frame}");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task EphemeralChannelsAndTopicsAreNotPersisted()
    {
        var topic = Names.Unique("ephmeta");
        await using var conn = await Nsqd.SubscribeAsync(topic, "e#ephemeral");
        await using var conn2 = await Nsqd.SubscribeAsync(topic + "#ephemeral", "c");
        // The fixture's nsqd is shared and its metadata is written in the background (changes coalesced): wait for
        // this topic's entry rather than for the file, which other tests have long since written.
        var path = Path.Combine(Nsqd.DataPath, "nsqd.json");
        var metadata = "";
        await Wait.UntilAsync(() =>
        {
            metadata = File.Exists(path) ? File.ReadAllText(path) : "";
            return metadata.Contains($"\"{topic}\"", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10), "this topic's metadata written");
        Assert.DoesNotContain("e#ephemeral", metadata, StringComparison.Ordinal);
        Assert.DoesNotContain(topic + "#ephemeral", metadata, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task SampleRateDeliversAboutThatShareOfMessages()
    {
        // upstream TestSampling: a message is delivered when rand.Int31n(100) <= sample_rate
        const int count = 1000;
        const int rate = 42;
        var topic = Names.Unique("sample");
        await using var pub = await Nsqd.ConnectAsync();
        await pub.MultiPublishAsync(topic, Enumerable.Range(0, count).Select(i => Encoding.ASCII.GetBytes($"s{i}")).ToList());
        await pub.ExpectResponseAsync("OK");

        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", $"{{\"sample_rate\":{rate}}}");
        await conn.SendAsync("RDY 2000");
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 0, TimeSpan.FromSeconds(20));
        var delivered = 0;
        long inFlight = -1;
        await Wait.UntilAsync(async () =>
        {
            // everything not sampled out is in flight to us; read until we have seen all of it
            try
            {
                while (true)
                {
                    await conn.ExpectMessageAsync(TimeSpan.FromMilliseconds(100));
                    delivered++;
                }
            }
            catch (TimeoutException)
            {
            }

            inFlight = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("in_flight_count").GetInt64();
            return delivered == inFlight;
        }, TimeSpan.FromSeconds(15), "every in-flight message received");
        Assert.InRange(delivered, count * (rate - 10) / 100, count * (rate + 10) / 100);
    }

    [Fact(Timeout = 30_000)]
    public async Task BufferedMessagesWaitForTheOutputBufferTimeout()
    {
        // upstream TestOutputBuffering: while the client stays ready and the buffer is not full, a
        // message frame is held until output_buffer_timeout.
        var topic = Names.Unique("obuf");
        await Nsqd.PublishAsync(topic, new string('x', 1000));
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["output_buffer_size"] = 60_000, ["output_buffer_timeout"] = 600 });
        Assert.Equal(600, json.GetProperty("output_buffer_timeout").GetInt64());
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        var watch = Stopwatch.StartNew();
        await conn.SendAsync("RDY 10");
        var msg = await conn.ExpectMessageAsync();
        Assert.True(watch.ElapsedMilliseconds >= 500, $"buffered message arrived after {watch.ElapsedMilliseconds}ms, before output_buffer_timeout");
        Assert.Equal(1000, msg.Body.Length);
    }

    [Fact(Timeout = 30_000)]
    public async Task NotReadyClientsGetBufferedMessagesFlushedAtOnce()
    {
        // the buffer is flushed as soon as the client cannot take more (in flight == RDY)
        var topic = Names.Unique("oflush");
        await Nsqd.PublishAsync(topic, "one");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.NegotiateAsync(new Dictionary<string, object?> { ["output_buffer_size"] = 60_000, ["output_buffer_timeout"] = 5000 });
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        Assert.Equal("one", (await conn.ExpectMessageAsync(TimeSpan.FromSeconds(4))).BodyText); // well before the 5s timeout
    }

    [Fact(Timeout = 30_000)]
    public async Task UnbufferedClientsGetMessagesStraightAway()
    {
        var topic = Names.Unique("ounbuf");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["output_buffer_size"] = -1 });
        Assert.Equal(1, json.GetProperty("output_buffer_size").GetInt32());
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 100");
        await Nsqd.PublishAsync(topic, "immediate");
        Assert.Equal("immediate", (await conn.ExpectMessageAsync(TimeSpan.FromSeconds(3))).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task DeletingAChannelClosesItsConsumers()
    {
        var topic = Names.Unique("chdel");
        await using var conn = await Nsqd.SubscribeAsync(topic, "doomed");
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/delete?topic={topic}&channel=doomed")).Status);
        await conn.ExpectClosedAsync();
        Assert.Null(await Nsqd.ChannelStatsAsync(topic, "doomed"));
    }

    [Fact(Timeout = 30_000)]
    public async Task DeletingATopicClosesItsConsumers()
    {
        var topic = Names.Unique("tdel");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        Assert.Equal(200, (await Nsqd.PostAsync($"/topic/delete?topic={topic}")).Status);
        await conn.ExpectClosedAsync();
        Assert.Null(await Nsqd.TopicStatsAsync(topic));
    }

    [Fact(Timeout = 30_000)]
    public async Task EmptyingAChannelDropsQueuedAndInFlightMessages()
    {
        // upstream Channel.Empty re-initialises the in-flight and deferred queues and zeroes every
        // client's in-flight count, so a FIN afterwards fails and the client is ready again.
        var topic = Names.Unique("chempty");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        for (var i = 0; i < 5; i++)
        {
            await Nsqd.PublishAsync(topic, $"m{i}");
        }

        var inFlight = await conn.ExpectMessageAsync();
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 4);
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/empty?topic={topic}&channel=ch")).Status);
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 0);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        await conn.SendAsync("FIN " + inFlight.Id);
        await conn.ExpectNonFatalAsync($"E_FIN_FAILED FIN {inFlight.Id} failed ID not in flight");
        await Nsqd.PublishAsync(topic, "fresh");
        Assert.Equal("fresh", (await conn.ExpectMessageAsync()).BodyText);
    }
}
