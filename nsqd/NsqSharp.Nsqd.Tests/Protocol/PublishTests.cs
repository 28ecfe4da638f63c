using System.Diagnostics;
using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>PUB, MPUB and DPUB with upstream's validation order, error codes and texts (protocol_v2.go PUB/MPUB/DPUB/readMPUB).</summary>
public sealed class PublishTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private const int MaxMsgSize = 1_048_576;
    private const int MaxBodySize = 5_242_880;

    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task PublishedMessageIsDeliveredVerbatimWithUpstreamsHeader()
    {
        var topic = Names.Unique("pub");
        await using var sub = await Nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 1");
        await using var pub = await Nsqd.ConnectAsync();
        var body = new byte[300];
        new Random(3).NextBytes(body);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        await pub.SendAsync("PUB " + topic, body);
        await pub.ExpectResponseAsync("OK");
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 + 1_000_000;

        var msg = await sub.ExpectMessageAsync();
        Assert.Equal(body, msg.Body);
        Assert.Equal(1, msg.Attempts);
        Assert.Matches("^[0-9a-f]{16}$", msg.Id);
        Assert.InRange(msg.TimestampNs, before - 1_000_000, after);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("bad!name")]
    [InlineData("with:colon")]
    [InlineData("#ephemeral")]
    [InlineData("a#ephemeral#ephemeral")]
    [InlineData("uni\u00e9code")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123x")]
    [InlineData("0123456789012345678901234567890123456789012345678901234#ephemeral")]
    public async Task InvalidTopicNamesAreFatal(string name)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("PUB " + name, "x"u8.ToArray());
        await conn.ExpectFatalAsync($"E_BAD_TOPIC PUB topic name \"{name}\" is not valid");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("a")]
    [InlineData("test-with_period.")]
    [InlineData("...")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    [InlineData("01234567890123456789012345678901234567890123456789012#ephemeral")]
    public async Task ValidTopicNamesUpToSixtyFourCharactersArePublished(string name)
    {
        var unique = name.Length < 40 ? name + Guid.NewGuid().ToString("N")[..8] : name;
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("PUB " + unique, "x"u8.ToArray());
        await conn.ExpectResponseAsync("OK");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("tab\there", "\"tab\\there\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("bell\u0007", "\"bell\\a\"")]
    [InlineData("nul\u0000", "\"nul\\x00\"")]
    public async Task TopicNamesAreQuotedLikeGo(string name, string quoted)
    {
        // upstream formats names with %q
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("PUB " + name, "x"u8.ToArray());
        await conn.ExpectFatalAsync($"E_BAD_TOPIC PUB topic name {quoted} is not valid");
    }

    [Fact(Timeout = 30_000)]
    public async Task EmptyTopicNameIsQuotedInTheError()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("PUB ", "x"u8.ToArray());
        await conn.ExpectFatalAsync("E_BAD_TOPIC PUB topic name \"\" is not valid");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("PUB", "E_INVALID PUB insufficient number of parameters")]
    [InlineData("MPUB", "E_INVALID MPUB insufficient number of parameters")]
    [InlineData("DPUB", "E_INVALID DPUB insufficient number of parameters")]
    [InlineData("DPUB only_topic", "E_INVALID DPUB insufficient number of parameters")]
    public async Task MissingParametersAreFatal(string line, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_MESSAGE PUB invalid message body size 0")]
    [InlineData(-1, "E_BAD_MESSAGE PUB invalid message body size -1")]
    [InlineData(MaxMsgSize + 1, "E_BAD_MESSAGE PUB message too big 1048577 > 1048576")]
    [InlineData(int.MaxValue, "E_BAD_MESSAGE PUB message too big 2147483647 > 1048576")]
    public async Task BadPublishSizesAreFatal(int size, string error)
    {
        var topic = Names.Unique("pubsize");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes($"PUB {topic}\n"), .. RawConnection.Int32(size)]);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task PipelinedPublishesAreAnsweredInOrderAndStored()
    {
        var topic = Names.Unique("pipeline");
        await using var conn = await Nsqd.ConnectAsync();
        var bytes = new List<byte>();
        for (var i = 0; i < 200; i++)
        {
            bytes.AddRange(RawConnection.Command("PUB " + topic, Encoding.ASCII.GetBytes($"msg-{i}")));
        }

        await conn.WriteAsync([.. bytes]);
        for (var i = 0; i < 200; i++)
        {
            await conn.ExpectResponseAsync("OK");
        }

        var t = (await Nsqd.TopicStatsAsync(topic))!.Value;
        Assert.Equal(200, t.GetProperty("message_count").GetInt64());
        Assert.Equal(200, t.GetProperty("depth").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishingIsAllowedInEveryState()
    {
        var topic = Names.Unique("anystate");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.PublishAsync(topic, "before identify");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("IDENTIFY", "{}"u8.ToArray());
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.PublishAsync(topic, "subscribed");
        await conn.ExpectResponseAsync("OK");
        await conn.MultiPublishAsync(topic, ["a"u8.ToArray(), "b"u8.ToArray()]);
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"DPUB {topic} 0", "deferred 0"u8.ToArray());
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("CLS");
        await conn.ExpectResponseAsync("CLOSE_WAIT");
        await conn.PublishAsync(topic, "closing");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishCountsShowUpForProducersInStats()
    {
        var topic = Names.Unique("producer");
        await using var conn = await Nsqd.ConnectIdentifiedAsync("{\"client_id\":\"producer-1\"}");
        await conn.PublishAsync(topic, "12345");
        await conn.ExpectResponseAsync("OK");
        await conn.MultiPublishAsync(topic, ["a"u8.ToArray(), "bb"u8.ToArray(), "ccc"u8.ToArray()]);
        await conn.ExpectResponseAsync("OK");

        var t = (await Nsqd.TopicStatsAsync(topic))!.Value;
        Assert.Equal(4, t.GetProperty("message_count").GetInt64());
        Assert.Equal(11, t.GetProperty("message_bytes").GetInt64());

        var stats = await Nsqd.StatsAsync();
        var producer = stats.GetProperty("producers").EnumerateArray().Single(p => p.GetProperty("client_id").GetString() == "producer-1");
        var counts = producer.GetProperty("pub_counts").EnumerateArray().Single(c => c.GetProperty("topic").GetString() == topic);
        Assert.Equal(4, counts.GetProperty("count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task MultiPublishDeliversEveryMessageInOrder()
    {
        var topic = Names.Unique("mpub");
        await using var sub = await Nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 100");
        await using var pub = await Nsqd.ConnectAsync();
        var bodies = Enumerable.Range(0, 50).Select(i => Encoding.ASCII.GetBytes($"m{i:000}")).ToList();
        await pub.MultiPublishAsync(topic, bodies);
        await pub.ExpectResponseAsync("OK");
        for (var i = 0; i < 50; i++)
        {
            var msg = await sub.ExpectMessageAsync();
            Assert.Equal(bodies[i], msg.Body);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task MultiPublishTopicErrorRepeatsTheCode()
    {
        // upstream quirk kept for compatibility: the description itself starts with E_BAD_TOPIC
        await using var conn = await Nsqd.ConnectAsync();
        await conn.MultiPublishAsync("bad!topic", ["x"u8.ToArray()]);
        await conn.ExpectFatalAsync("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"bad!topic\" is not valid");
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_BODY MPUB invalid body size 0")]
    [InlineData(-7, "E_BAD_BODY MPUB invalid body size -7")]
    [InlineData(MaxBodySize + 1, "E_BAD_BODY MPUB body too big 5242881 > 5242880")]
    public async Task BadMultiPublishBodySizesAreFatal(int size, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes($"MPUB {Names.Unique("mb")}\n"), .. RawConnection.Int32(size)]);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_BODY MPUB invalid message count 0")]
    [InlineData(-1, "E_BAD_BODY MPUB invalid message count -1")]
    [InlineData(1_048_576, "E_BAD_BODY MPUB invalid message count 1048576")]
    public async Task BadMessageCountsAreFatal(int count, string error)
    {
        // (max-body-size - 4) / 5 = 1048575 messages at most
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("MPUB " + Names.Unique("mc"), [.. RawConnection.Int32(count), .. RawConnection.Int32(1), (byte)'x']);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_MESSAGE MPUB invalid message(1) body size 0")]
    [InlineData(-3, "E_BAD_MESSAGE MPUB invalid message(1) body size -3")]
    [InlineData(MaxMsgSize + 1, "E_BAD_MESSAGE MPUB message too big 1048577 > 1048576")]
    public async Task BadMessageSizesInsideMultiPublishAreFatal(int size, string error)
    {
        var body = new List<byte>();
        body.AddRange(RawConnection.Int32(2));
        body.AddRange(RawConnection.Int32(1));
        body.Add((byte)'a');
        body.AddRange(RawConnection.Int32(size));
        body.AddRange("tail"u8.ToArray());
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("MPUB " + Names.Unique("ms"), [.. body]);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task MultiPublishIsAtomic()
    {
        var topic = Names.Unique("atomic");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.MultiPublishAsync(topic, ["one"u8.ToArray(), "two"u8.ToArray(), []]);
        await conn.ExpectFatalAsync("E_BAD_MESSAGE MPUB invalid message(2) body size 0");
        var t = await Nsqd.TopicStatsAsync(topic);
        Assert.True(t == null || t.Value.GetProperty("message_count").GetInt64() == 0, "no message of a rejected MPUB may be published");
    }

    [Fact(Timeout = 30_000)]
    public async Task DeferredPublishIsHeldBackForItsDelay()
    {
        var topic = Names.Unique("dpub");
        await using var sub = await Nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 1");
        await using var pub = await Nsqd.ConnectAsync();
        var watch = Stopwatch.StartNew();
        await pub.SendAsync($"DPUB {topic} 1000", "later"u8.ToArray());
        await pub.ExpectResponseAsync("OK");
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);
        var topicStats = (await Nsqd.TopicStatsAsync(topic))!.Value;
        Assert.Equal(1, topicStats.GetProperty("message_count").GetInt64());

        var msg = await sub.ExpectMessageAsync(TimeSpan.FromSeconds(10));
        Assert.True(watch.ElapsedMilliseconds >= 900, $"delivered after {watch.ElapsedMilliseconds}ms, before its 1000ms delay");
        Assert.Equal("later", msg.BodyText);
        Assert.Equal(1, msg.Attempts);
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task DeferredPublishOfZeroIsImmediate()
    {
        var topic = Names.Unique("dpub0");
        await using var sub = await Nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 1");
        await using var pub = await Nsqd.ConnectAsync();
        await pub.SendAsync($"DPUB {topic} 0", "now"u8.ToArray());
        await pub.ExpectResponseAsync("OK");
        Assert.Equal("now", (await sub.ExpectMessageAsync()).BodyText);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("3600100", "E_INVALID DPUB timeout 3600100 out of range 0-3600000")]
    [InlineData("-1", "E_INVALID DPUB could not parse timeout -1")]
    [InlineData("1.5", "E_INVALID DPUB could not parse timeout 1.5")]
    [InlineData("soon", "E_INVALID DPUB could not parse timeout soon")]
    public async Task BadDeferralsAreFatal(string timeout, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync($"DPUB {Names.Unique("dbad")} {timeout}", "x"u8.ToArray());
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_MESSAGE DPUB invalid message body size 0")]
    [InlineData(MaxMsgSize + 1, "E_BAD_MESSAGE DPUB message too big 1048577 > 1048576")]
    public async Task BadDeferredPublishSizesAreFatal(int size, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes($"DPUB {Names.Unique("dsz")} 10\n"), .. RawConnection.Int32(size)]);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task DeferredPublishTopicIsValidated()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("DPUB no/slash 10", "x"u8.ToArray());
        await conn.ExpectFatalAsync("E_BAD_TOPIC DPUB topic name \"no/slash\" is not valid");
    }
}
