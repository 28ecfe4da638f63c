using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// The configurable limits with small values: message and body sizes (TestSizeLimits), RDY
/// (TestMaxRdyCount), REQ/DPUB ranges (TestReqTimeoutRange, TestDPUB), heartbeat and output buffer
/// maxima, the deflate level cap, disabled snappy, and --max-channel-consumers.
/// </summary>
public sealed class LimitsTests(LimitsNsqdFixture fixture) : IClassFixture<LimitsNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private static List<byte[]> Messages(int count, int size) => Enumerable.Range(0, count).Select(_ => new byte[size]).ToList();

    [Fact(Timeout = 30_000)]
    public async Task UpstreamSizeLimitScenario()
    {
        // upstream TestSizeLimits, step by step, with max-msg-size 100 and max-body-size 1000
        var topic = Names.Unique("limits");
        await using (var conn = await Nsqd.SubscribeAsync(topic, "ch"))
        {
            await conn.SendAsync("PUB " + topic, new byte[95]);
            await conn.ExpectResponseAsync("OK");
            await conn.SendAsync("PUB " + topic, new byte[105]);
            await conn.ExpectFatalAsync("E_BAD_MESSAGE PUB message too big 105 > 100");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.SendAsync("PUB " + topic, []);
            await conn.ExpectFatalAsync("E_BAD_MESSAGE PUB invalid message body size 0");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.MultiPublishAsync(topic, Messages(5, 100));
            await conn.ExpectResponseAsync("OK");
            await conn.MultiPublishAsync(topic, Messages(11, 100));
            await conn.ExpectFatalAsync("E_BAD_BODY MPUB body too big 1148 > 1000");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            var mpub = Messages(5, 100);
            mpub.Add([]);
            await conn.MultiPublishAsync(topic, mpub);
            await conn.ExpectFatalAsync("E_BAD_MESSAGE MPUB invalid message(5) body size 0");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.MultiPublishAsync(topic, Messages(5, 101));
            await conn.ExpectFatalAsync("E_BAD_MESSAGE MPUB message too big 101 > 100");
        }

        var t = (await Nsqd.TopicStatsAsync(topic))!.Value;
        Assert.Equal(6, t.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task MessagesOfExactlyMaxSizeAreAccepted()
    {
        var topic = Names.Unique("exact");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("PUB " + topic, new byte[LimitsNsqdFixture.MaxMsgSize]);
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"DPUB {topic} 10", new byte[LimitsNsqdFixture.MaxMsgSize]);
        await conn.ExpectResponseAsync("OK");

        // a 1000-byte MPUB body: 4 + 9 × (4 + 100) = 940, plus one of 56 = 1000
        var mpub = Messages(9, 100);
        mpub.Add(new byte[56]);
        Assert.Equal(LimitsNsqdFixture.MaxBodySize, RawConnection.MultiBody(mpub).Length);
        await conn.MultiPublishAsync(topic, mpub);
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task MultiPublishMessageCountIsBoundedByTheBodySize()
    {
        // at most (1000 - 4) / 5 = 199 messages fit in a 1000-byte body
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("MPUB " + Names.Unique("count"), [.. RawConnection.Int32(200), .. new byte[20]]);
        await conn.ExpectFatalAsync("E_BAD_BODY MPUB invalid message count 200");
    }

    [Fact(Timeout = 30_000)]
    public async Task DeferredPublishLimits()
    {
        var topic = Names.Unique("dlimits");
        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.SendAsync($"DPUB {topic} 60000", "x"u8.ToArray());
            await conn.ExpectResponseAsync("OK");
            await conn.SendAsync($"DPUB {topic} 60001", "x"u8.ToArray());
            await conn.ExpectFatalAsync("E_INVALID DPUB timeout 60001 out of range 0-60000");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.SendAsync($"DPUB {topic} 10", new byte[101]);
            await conn.ExpectFatalAsync("E_BAD_MESSAGE DPUB message too big 101 > 100");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task IdentifyAndAuthBodiesAreBoundedByMaxBodySize()
    {
        await using (var conn = await Nsqd.ConnectAsync())
        {
            var json = "{\"client_id\":\"" + new string('x', 1000) + "\"}";
            await conn.SendAsync("IDENTIFY", Encoding.ASCII.GetBytes(json));
            await conn.ExpectFatalAsync($"E_BAD_BODY IDENTIFY body too big {json.Length} > 1000");
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.SendAsync("AUTH", new byte[1001]);
            await conn.ExpectFatalAsync("E_BAD_BODY AUTH body too big 1001 > 1000");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task RdyIsBoundedByMaxRdyCount()
    {
        // upstream TestMaxRdyCount
        var topic = Names.Unique("maxrdy");
        await Nsqd.PublishAsync(topic, "test body");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync();
        Assert.Equal(50, json.GetProperty("max_rdy_count").GetInt64());
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 50");
        Assert.Equal("test body", (await conn.ExpectMessageAsync()).BodyText);
        await conn.SendAsync("RDY 51");
        await conn.ExpectFatalAsync("E_INVALID RDY count 51 out of range 0-50");
    }

    [Fact(Timeout = 30_000)]
    public async Task RequeueTimeoutIsClampedToMaxReqTimeout()
    {
        var topic = Names.Unique("reqrange");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "test body");
        var msg = await conn.ExpectMessageAsync();
        await conn.SendAsync($"REQ {msg.Id} 120000");
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(300));
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("heartbeat_interval", 300_000, true)]
    [InlineData("heartbeat_interval", 300_001, false)]
    [InlineData("output_buffer_size", 512 * 1024, true)]
    [InlineData("output_buffer_size", 512 * 1024 + 1, false)]
    [InlineData("output_buffer_timeout", 1000, true)]
    [InlineData("output_buffer_timeout", 1001, false)]
    public async Task NegotiationMaximaFollowTheServerFlags(string field, int value, bool accepted)
    {
        // upstream TestMaxHeartbeatIntervalValid/Invalid and TestOutputBufferingValidity
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(new Dictionary<string, object?> { [field] = value });
        if (accepted)
        {
            Assert.Equal(FrameType.Response, frame.Type);
            return;
        }

        var what = field.Replace('_', ' ');
        Assert.Equal($"E_BAD_BODY IDENTIFY {what} ({value}) is invalid", frame.Text);
        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task LargeOutputBufferIsAcceptedAndEchoed()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["output_buffer_size"] = 256 * 1024, ["output_buffer_timeout"] = 500 });
        Assert.Equal(256 * 1024, json.GetProperty("output_buffer_size").GetInt32());
        Assert.Equal(500, json.GetProperty("output_buffer_timeout").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task DeflateLevelIsCappedByMaxDeflateLevel()
    {
        var topic = Names.Unique("deflcap");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["deflate"] = true, ["deflate_level"] = 9 });
        Assert.True(json.GetProperty("deflate").GetBoolean());
        Assert.Equal(3, json.GetProperty("deflate_level").GetInt32());
        Assert.Equal(3, json.GetProperty("max_deflate_level").GetInt32());
        conn.UpgradeDeflate(3);
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "over deflate");
        Assert.Equal("over deflate", (await conn.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task SnappyIsNotNegotiatedWhenDisabled()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["snappy"] = true });
        Assert.False(json.GetProperty("snappy").GetBoolean());
        await conn.PublishAsync(Names.Unique("nosnappy"), "plain");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task SnappyAndDeflateTogetherAreFineWhenSnappyIsDisabled()
    {
        // the conflict check is on what would be enabled, so deflate alone wins here
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["snappy"] = true, ["deflate"] = true });
        Assert.False(json.GetProperty("snappy").GetBoolean());
        Assert.True(json.GetProperty("deflate").GetBoolean());
        conn.UpgradeDeflate(3);
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task ChannelConsumersAreLimited()
    {
        var topic = Names.Unique("maxcons");
        await using var a = await Nsqd.SubscribeAsync(topic, "ch");
        await using var b = await Nsqd.SubscribeAsync(topic, "ch");
        await using var c = await Nsqd.ConnectIdentifiedAsync();
        await c.SendAsync($"SUB {topic} ch");
        await c.ExpectFatalAsync($"E_SUB_FAILED SUB failed consumers for {topic}:ch exceeds limit of 2");

        // the limit is per channel
        await using var other = await Nsqd.SubscribeAsync(topic, "other");
    }
}
