using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// /topic/* and /channel/* with upstream's argument errors, 404s and empty 200 replies
/// (http_test.go TestHTTPV1TopicChannel, TestDeleteTopic, TestEmptyTopic, TestEmptyChannel).
/// </summary>
public sealed class TopicChannelApiTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private static void AssertEmptyOk(HttpReply reply)
    {
        Assert.Equal(200, reply.Status);
        Assert.Equal("", reply.Body);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
    }

    private static void AssertError(HttpReply reply, int status, string message)
    {
        Assert.Equal(status, reply.Status);
        Assert.Equal($"{{\"message\":\"{message}\"}}", reply.Body);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicAndChannelLifecycle()
    {
        // upstream TestHTTPV1TopicChannel
        var topic = Names.Unique("lifecycle");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch2"));
        Assert.NotNull(await Nsqd.ChannelStatsAsync(topic, "ch2"));

        AssertError(await Nsqd.PostAsync("/topic/pause"), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"/topic/pause?topic={topic}abc"), 404, "TOPIC_NOT_FOUND");

        AssertEmptyOk(await Nsqd.PostAsync($"/topic/pause?topic={topic}"));
        Assert.True((await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("paused").GetBoolean());
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/unpause?topic={topic}"));
        Assert.False((await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("paused").GetBoolean());

        AssertEmptyOk(await Nsqd.PostAsync($"/channel/pause?topic={topic}&channel=ch2"));
        Assert.True((await Nsqd.ChannelStatsAsync(topic, "ch2"))!.Value.GetProperty("paused").GetBoolean());
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/unpause?topic={topic}&channel=ch2"));
        Assert.False((await Nsqd.ChannelStatsAsync(topic, "ch2"))!.Value.GetProperty("paused").GetBoolean());

        AssertEmptyOk(await Nsqd.PostAsync($"/channel/delete?topic={topic}&channel=ch2"));
        Assert.Null(await Nsqd.ChannelStatsAsync(topic, "ch2"));
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/delete?topic={topic}"));
        Assert.Null(await Nsqd.TopicStatsAsync(topic));
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicCreateValidatesAndIsIdempotent()
    {
        var topic = Names.Unique("create");
        AssertError(await Nsqd.PostAsync("/topic/create"), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync("/topic/create?topic=bad!"), 400, "INVALID_TOPIC");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        Assert.NotNull(await Nsqd.TopicStatsAsync(topic));
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicDelete()
    {
        // upstream TestDeleteTopic
        var topic = Names.Unique("delete");
        AssertError(await Nsqd.PostAsync("/topic/delete"), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"/topic/delete?topic={topic}"), 404, "TOPIC_NOT_FOUND");
        await Nsqd.PublishAsync(topic, "doomed");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/delete?topic={topic}"));
        Assert.Null(await Nsqd.TopicStatsAsync(topic));
        AssertError(await Nsqd.PostAsync($"/topic/delete?topic={topic}"), 404, "TOPIC_NOT_FOUND");

        // a deleted topic comes back empty when published to again
        await Nsqd.PublishAsync(topic, "reborn");
        Assert.Equal(1, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("depth").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicPauseDoesNotValidateTheName()
    {
        // upstream only looks the topic up: an invalid name is simply not found
        AssertError(await Nsqd.PostAsync("/topic/pause?topic=bad!name"), 404, "TOPIC_NOT_FOUND");
        AssertError(await Nsqd.PostAsync("/topic/unpause?topic=bad!name"), 404, "TOPIC_NOT_FOUND");
        AssertError(await Nsqd.PostAsync("/topic/delete?topic=bad!name"), 404, "TOPIC_NOT_FOUND");
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicEmpty()
    {
        // upstream TestEmptyTopic
        var topic = Names.Unique("tempty");
        AssertError(await Nsqd.PostAsync("/topic/empty"), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"/topic/empty?topic={topic}$"), 400, "INVALID_TOPIC");
        AssertError(await Nsqd.PostAsync($"/topic/empty?topic={topic}"), 404, "TOPIC_NOT_FOUND");
        for (var i = 0; i < 3; i++)
        {
            await Nsqd.PublishAsync(topic, $"m{i}");
        }

        Assert.Equal(3, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("depth").GetInt64());
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/empty?topic={topic}"));
        Assert.Equal(0, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("depth").GetInt64());

        // what was emptied never reaches a channel created afterwards
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 10");
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(300));
        await Nsqd.PublishAsync(topic, "after empty");
        Assert.Equal("after empty", (await conn.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task ChannelEmpty()
    {
        // upstream TestEmptyChannel
        var topic = Names.Unique("cempty");
        AssertError(await Nsqd.PostAsync("/channel/empty"), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"/channel/empty?topic={topic}"), 400, "MISSING_ARG_CHANNEL");
        AssertError(await Nsqd.PostAsync($"/channel/empty?topic={topic}&channel=ch"), 404, "TOPIC_NOT_FOUND");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        AssertError(await Nsqd.PostAsync($"/channel/empty?topic={topic}&channel=ch"), 404, "CHANNEL_NOT_FOUND");
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch"));
        await Nsqd.PublishAsync(topic, "a");
        await Nsqd.PublishAsync(topic, "b");
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 2);
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/empty?topic={topic}&channel=ch"));
        await Nsqd.WaitForChannelAsync(topic, "ch", "depth", 0);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/channel/create")]
    [InlineData("/channel/delete")]
    [InlineData("/channel/empty")]
    [InlineData("/channel/pause")]
    [InlineData("/channel/unpause")]
    public async Task ChannelEndpointsValidateTheirArguments(string path)
    {
        var topic = Names.Unique("chargs");
        AssertError(await Nsqd.PostAsync(path), 400, "MISSING_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"{path}?topic=bad!&channel=ch"), 400, "INVALID_ARG_TOPIC");
        AssertError(await Nsqd.PostAsync($"{path}?topic={topic}"), 400, "MISSING_ARG_CHANNEL");
        AssertError(await Nsqd.PostAsync($"{path}?topic={topic}&channel=bad!"), 400, "INVALID_ARG_CHANNEL");
        AssertError(await Nsqd.PostAsync($"{path}?topic={topic}&channel=ch"), 404, "TOPIC_NOT_FOUND");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        if (path != "/channel/create")
        {
            AssertError(await Nsqd.PostAsync($"{path}?topic={topic}&channel=ch"), 404, "CHANNEL_NOT_FOUND");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ChannelCreateMakesAnEphemeralChannelToo()
    {
        var topic = Names.Unique("chcreate");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=e%23ephemeral"));
        Assert.NotNull(await Nsqd.ChannelStatsAsync(topic, "e#ephemeral"));
    }

    [Fact(Timeout = 30_000)]
    public async Task PauseStateIsPersistedImmediately()
    {
        var topic = Names.Unique("persistpause");
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/create?topic={topic}"));
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch"));
        AssertEmptyOk(await Nsqd.PostAsync($"/topic/pause?topic={topic}"));
        AssertEmptyOk(await Nsqd.PostAsync($"/channel/pause?topic={topic}&channel=ch"));
        var metadataPath = Path.Combine(Nsqd.DataPath, "nsqd.json");
        using var doc = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(metadataPath));
        var t = doc.RootElement.GetProperty("topics").EnumerateArray().Single(x => x.GetProperty("name").GetString() == topic);
        Assert.True(t.GetProperty("paused").GetBoolean());
        Assert.True(t.GetProperty("channels")[0].GetProperty("paused").GetBoolean());
    }
}
