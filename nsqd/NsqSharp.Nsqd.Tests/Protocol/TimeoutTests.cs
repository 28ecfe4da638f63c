using System.Diagnostics;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// In-flight timeouts, msg_timeout negotiation, TOUCH and its --max-msg-timeout cap, and E2E
/// latency, against an nsqd with --msg-timeout=600ms --max-msg-timeout=4000ms
/// (TestClientMsgTimeout, TestTouch, channel.go TouchMessage).
/// </summary>
public sealed class TimeoutTests(TimingNsqdFixture fixture) : IClassFixture<TimingNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task NegotiatedMsgTimeoutDefaultsToTheServerFlag()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync();
        Assert.Equal(TimingNsqdFixture.MsgTimeoutMs, json.GetProperty("msg_timeout").GetInt64());
        Assert.Equal(TimingNsqdFixture.MaxMsgTimeoutMs, json.GetProperty("max_msg_timeout").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task UnfinishedMessagesTimeOutAndAreRedelivered()
    {
        // upstream TestClientMsgTimeout
        var topic = Names.Unique("timeout");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "slow consumer");
        var msg = await conn.ExpectMessageAsync();
        await conn.SendAsync("RDY 0");

        await Nsqd.WaitForChannelAsync(topic, "ch", "timeout_count", 1);
        var ch = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value;
        Assert.Equal(0, ch.GetProperty("requeue_count").GetInt64());
        Assert.Equal(0, ch.GetProperty("in_flight_count").GetInt64());
        Assert.Equal(0, ch.GetProperty("clients")[0].GetProperty("in_flight_count").GetInt64());

        await conn.SendAsync("FIN " + msg.Id);
        await conn.ExpectNonFatalAsync($"E_FIN_FAILED FIN {msg.Id} failed ID not in flight");

        await conn.SendAsync("RDY 1");
        var again = await conn.ExpectMessageAsync();
        Assert.Equal(msg.Id, again.Id);
        Assert.Equal(2, again.Attempts);
        await conn.SendAsync("FIN " + again.Id);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task ClientMsgTimeoutOverridesTheServerDefault()
    {
        var topic = Names.Unique("clienttimeout");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", "{\"msg_timeout\":1500}");
        await conn.SendAsync("RDY 1");
        var watch = Stopwatch.StartNew(); // before the delivery, so the deadline is at least 1500ms later
        await Nsqd.PublishAsync(topic, "patient");
        await conn.ExpectMessageAsync();
        await conn.SendAsync("RDY 0");
        await Nsqd.WaitForChannelAsync(topic, "ch", "timeout_count", 1);
        Assert.True(watch.ElapsedMilliseconds >= 1450, $"timed out after {watch.ElapsedMilliseconds}ms despite msg_timeout 1500");
    }

    [Fact(Timeout = 30_000)]
    public async Task TouchKeepsAMessageInFlight()
    {
        // upstream TestTouch: touching before the timeout keeps the message; FIN then succeeds
        // msg_timeout 1500 and TOUCH every 100ms for 2.2s: only a stall of well over a second on a
        // loaded test host could let it time out
        var topic = Names.Unique("touch");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", "{\"msg_timeout\":1500}");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "touched");
        var msg = await conn.ExpectMessageAsync();
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < 2200)
        {
            await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(100)); // "processing"
            await conn.SendAsync("TOUCH " + msg.Id);
        }

        await conn.SendAsync("FIN " + msg.Id);
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(200));
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        Assert.Equal(0, (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("timeout_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task TouchCannotExtendBeyondMaxMsgTimeout()
    {
        // msg_timeout 2000: a slow test host between TOUCHes cannot make the message time out early
        var topic = Names.Unique("touchcap");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", "{\"msg_timeout\":2000}");
        await conn.SendAsync("RDY 2");
        var watch = Stopwatch.StartNew(); // before the delivery, so the cap is at least MaxMsgTimeout later
        await Nsqd.PublishAsync(topic, "capped");
        var msg = await conn.ExpectMessageAsync();
        NsqMessage? again = null;
        while (again == null && watch.Elapsed < TimeSpan.FromSeconds(6))
        {
            await conn.SendAsync("TOUCH " + msg.Id);
            try
            {
                again = await conn.ExpectMessageAsync(TimeSpan.FromMilliseconds(150));
            }
            catch (TimeoutException)
            {
            }
        }

        Assert.NotNull(again);
        Assert.Equal(msg.Id, again.Id);
        Assert.Equal(2, again.Attempts);
        Assert.True(watch.ElapsedMilliseconds >= TimingNsqdFixture.MaxMsgTimeoutMs - 50,
            $"timed out after {watch.ElapsedMilliseconds}ms, before --max-msg-timeout");
        Assert.Equal(1, (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("timeout_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueAfterTimeoutFails()
    {
        var topic = Names.Unique("reqlate");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "too late");
        var msg = await conn.ExpectMessageAsync();
        await conn.SendAsync("RDY 0");
        await Nsqd.WaitForChannelAsync(topic, "ch", "timeout_count", 1);
        await conn.SendAsync($"REQ {msg.Id} 0");
        await conn.ExpectNonFatalAsync($"E_REQ_FAILED REQ {msg.Id} failed ID not in flight");
        await conn.SendAsync("TOUCH " + msg.Id);
        await conn.ExpectNonFatalAsync($"E_TOUCH_FAILED TOUCH {msg.Id} failed ID not in flight");
    }

    [Fact(Timeout = 30_000)]
    public async Task FinishedMessagesFeedTheE2eLatencyPercentiles()
    {
        var topic = Names.Unique("e2e");
        // This fixture's 600 ms message timeout could fire under load before the FIN (a redelivery then changes the
        // counts); this test is about the latency figures, so its client asks for the longest timeout allowed.
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", $"{{\"msg_timeout\":{TimingNsqdFixture.MaxMsgTimeoutMs}}}");
        await conn.SendAsync("RDY 10");
        for (var i = 0; i < 5; i++)
        {
            await Nsqd.PublishAsync(topic, $"m{i}");
            var msg = await conn.ExpectMessageAsync();
            await conn.SendAsync("FIN " + msg.Id);
        }

        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        var ch = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value;
        var e2e = ch.GetProperty("e2e_processing_latency");
        Assert.Equal(5, e2e.GetProperty("count").GetInt64());
        var quantiles = e2e.GetProperty("percentiles").EnumerateArray().Select(p => p.GetProperty("quantile").GetDouble()).ToList();
        Assert.Contains(1.0, quantiles);
        Assert.Contains(0.5, quantiles);
        Assert.Contains(0.99, quantiles);
        foreach (var p in e2e.GetProperty("percentiles").EnumerateArray())
        {
            Assert.InRange(p.GetProperty("value").GetDouble(), 0, 60e9); // nanoseconds
        }

        var t = (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("e2e_processing_latency");
        Assert.Equal(5, t.GetProperty("count").GetInt64());
    }
}
