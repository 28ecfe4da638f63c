using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// The replay extension: POST /channel/seek?topic=&amp;channel=&amp;to=oldest|newest|offset|timestamp&amp;value=N
/// moves a channel's cursor (value is an offset, or unix milliseconds for timestamp).
/// </summary>
public sealed class ReplayApiTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private NsqdInstance Nsqd => fixture.Nsqd;

    /// <summary>Publishes m0..m{n-1}, consumes and finishes them all; returns the subscribed connection.</summary>
    private async Task<RawConnection> ConsumedAsync(string topic, int count)
    {
        var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 100");
        await using (var pub = await Nsqd.ConnectAsync())
        {
            await pub.MultiPublishAsync(topic, Enumerable.Range(0, count).Select(i => Encoding.ASCII.GetBytes($"m{i}")).ToList());
            await pub.ExpectResponseAsync("OK");
        }

        for (var i = 0; i < count; i++)
        {
            var msg = await conn.ExpectMessageAsync();
            Assert.Equal($"m{i}", msg.BodyText);
            await conn.SendAsync("FIN " + msg.Id);
        }

        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        return conn;
    }

    private static async Task<List<string>> ReceiveAsync(RawConnection conn, int count)
    {
        var bodies = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var msg = await conn.ExpectMessageAsync();
            bodies.Add(msg.BodyText);
            await conn.SendAsync("FIN " + msg.Id);
        }

        await conn.ExpectNothingAsync(Quiet);
        return bodies;
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekToOldestReplaysEverything()
    {
        var topic = Names.Unique("seekold");
        await using var conn = await ConsumedAsync(topic, 5);
        var reply = await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=oldest");
        Assert.Equal(200, reply.Status);
        Assert.Equal("", reply.Body);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], await ReceiveAsync(conn, 5));
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekToAnOffsetReplaysFromThere()
    {
        var topic = Names.Unique("seekoff");
        await using var conn = await ConsumedAsync(topic, 10);
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=offset&value=7")).Status);
        Assert.Equal(["m7", "m8", "m9"], await ReceiveAsync(conn, 3));

        // offsets beyond the end are clamped to the end
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=offset&value=999999")).Status);
        await conn.ExpectNothingAsync(Quiet);
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekToATimestampReplaysLaterMessages()
    {
        var topic = Names.Unique("seekts");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 100");
        for (var i = 0; i < 3; i++)
        {
            await Nsqd.PublishAsync(topic, $"early{i}");
        }

        var boundary = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 2;
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > boundary, TimeSpan.FromSeconds(5), "clock past the boundary");
        for (var i = 0; i < 3; i++)
        {
            await Nsqd.PublishAsync(topic, $"late{i}");
        }

        Assert.Equal(6, (await ReceiveAsync(conn, 6)).Count);
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=timestamp&value={boundary}")).Status);
        Assert.Equal(["late0", "late1", "late2"], await ReceiveAsync(conn, 3));
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekToNewestSkipsTheBacklog()
    {
        var topic = Names.Unique("seeknew");
        await Nsqd.PostAsync($"/topic/create?topic={topic}");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch");
        for (var i = 0; i < 5; i++)
        {
            await Nsqd.PublishAsync(topic, $"old{i}");
        }

        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 5);
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=newest")).Status);
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 0);
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 10");
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.PublishAsync(topic, "new");
        Assert.Equal("new", (await conn.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekKeepsInFlightMessagesInFlight()
    {
        var topic = Names.Unique("seekinflight");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        await Nsqd.PublishAsync(topic, "held");
        var held = await conn.ExpectMessageAsync();
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=ch&to=newest")).Status);
        await conn.SendAsync("FIN " + held.Id);
        await conn.ExpectNothingAsync(Quiet);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task OtherChannelsAreNotMoved()
    {
        var topic = Names.Unique("seekother");
        await using var conn = await ConsumedAsync(topic, 3);
        await using var other = await Nsqd.SubscribeAsync(topic, "other");
        await other.SendAsync("RDY 10");
        Assert.Equal(200, (await Nsqd.PostAsync($"/channel/seek?topic={topic}&channel=other&to=oldest")).Status);
        Assert.Equal(["m0", "m1", "m2"], await ReceiveAsync(other, 3));
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(50));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/channel/seek?to=oldest", 400, "MISSING_ARG_TOPIC")]
    [InlineData("/channel/seek?topic=bad!&channel=ch&to=oldest", 400, "INVALID_ARG_TOPIC")]
    [InlineData("/channel/seek?topic={0}&to=oldest", 400, "MISSING_ARG_CHANNEL")]
    [InlineData("/channel/seek?topic={0}&channel=bad!&to=oldest", 400, "INVALID_ARG_CHANNEL")]
    [InlineData("/channel/seek?topic=nosuchtopic_seek&channel=ch&to=oldest", 404, "TOPIC_NOT_FOUND")]
    [InlineData("/channel/seek?topic={0}&channel=ch", 400, "MISSING_ARG_TO")]
    [InlineData("/channel/seek?topic={0}&channel=ch&to=yesterday", 400, "INVALID_ARG_TO")]
    [InlineData("/channel/seek?topic={0}&channel=ch&to=offset", 400, "MISSING_ARG_VALUE")]
    [InlineData("/channel/seek?topic={0}&channel=ch&to=offset&value=-1", 400, "INVALID_ARG_VALUE")]
    [InlineData("/channel/seek?topic={0}&channel=ch&to=timestamp&value=noon", 400, "INVALID_ARG_VALUE")]
    [InlineData("/channel/seek?topic={0}&channel=nosuchchannel&to=oldest", 404, "CHANNEL_NOT_FOUND")]
    public async Task SeekArgumentErrors(string pathFormat, int status, string message)
    {
        var topic = Names.Unique("seekerr");
        await Nsqd.PostAsync($"/topic/create?topic={topic}");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch");
        var reply = await Nsqd.PostAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, pathFormat, topic));
        Assert.Equal(status, reply.Status);
        Assert.Equal(message, reply.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task SeekIsPostOnly()
    {
        var reply = await Nsqd.GetAsync("/channel/seek?topic=t&channel=c&to=oldest");
        Assert.Equal(405, reply.Status);
        Assert.Equal("METHOD_NOT_ALLOWED", reply.Message);
    }
}
