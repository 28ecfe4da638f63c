using System.Net.Http.Headers;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>HTTP publish size limits with --max-msg-size=100 --max-body-size=1000 (http.go doPUB/doMPUB).</summary>
public sealed class HttpLimitsTests(LimitsNsqdFixture fixture) : IClassFixture<LimitsNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private async Task<HttpReply> PostChunkedAsync(string pathAndQuery, byte[] body)
    {
        using var content = new StreamContent(new MemoryStream(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var request = new HttpRequestMessage(HttpMethod.Post, Nsqd.HttpBase + pathAndQuery) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        return await HttpReply.FromAsync(await Nsqd.Http.SendAsync(request));
    }

    [Fact(Timeout = 30_000)]
    public async Task PubAcceptsUpToMaxMsgSize()
    {
        var topic = Names.Unique("hmax");
        Assert.Equal("OK", (await Nsqd.PostAsync($"/pub?topic={topic}", new byte[100])).Body);
        var reply = await Nsqd.PostAsync($"/pub?topic={topic}", new byte[101]);
        Assert.Equal(413, reply.Status);
        Assert.Equal("{\"message\":\"MSG_TOO_BIG\"}", reply.Body);
        Assert.Equal(1, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task PubWithoutContentLengthIsStillBounded()
    {
        // upstream reads max-msg-size + 1 bytes through a LimitReader when there is no Content-Length
        var topic = Names.Unique("hchunk");
        Assert.Equal("OK", (await PostChunkedAsync($"/pub?topic={topic}", new byte[100])).Body);
        var reply = await PostChunkedAsync($"/pub?topic={topic}", new byte[5000]);
        Assert.Equal(413, reply.Status);
        Assert.Equal("MSG_TOO_BIG", reply.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubBodyIsBoundedByMaxBodySize()
    {
        var topic = Names.Unique("hbody");
        var lines = string.Join('\n', Enumerable.Repeat(new string('x', 99), 10)); // 999 bytes
        Assert.Equal("OK", (await Nsqd.PostAsync($"/mpub?topic={topic}", lines)).Body);
        var tooBig = await Nsqd.PostAsync($"/mpub?topic={topic}", lines + "\nx");
        Assert.Equal(413, tooBig.Status);
        Assert.Equal("{\"message\":\"BODY_TOO_BIG\"}", tooBig.Body);

        var chunked = await PostChunkedAsync($"/mpub?topic={topic}", new byte[3000]);
        Assert.Equal(413, chunked.Status);
        Assert.Equal("BODY_TOO_BIG", chunked.Message);
        Assert.Equal(10, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubTextLinesAreBoundedByMaxMsgSize()
    {
        var topic = Names.Unique("hline");
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}", "short\n" + new string('y', 101));
        Assert.Equal(413, reply.Status);
        Assert.Equal("{\"message\":\"MSG_TOO_BIG\"}", reply.Body);
        var t = await Nsqd.TopicStatsAsync(topic);
        Assert.True(t == null || t.Value.GetProperty("message_count").GetInt64() == 0, "a rejected /mpub publishes nothing");
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubBinaryMessagesAreBoundedByMaxMsgSize()
    {
        var topic = Names.Unique("hbinmax");
        var ok = RawConnection.MultiBody([new byte[100], new byte[100]]);
        Assert.Equal("OK", (await Nsqd.PostAsync($"/mpub?topic={topic}&binary=true", ok)).Body);
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}&binary=true", RawConnection.MultiBody([new byte[101]]));
        Assert.Equal(413, reply.Status);
        Assert.Equal("BAD_MESSAGE", reply.Message);
        var count = await Nsqd.PostAsync($"/mpub?topic={topic}&binary=true", [.. RawConnection.Int32(200), .. new byte[10]]);
        Assert.Equal(413, count.Status);
        Assert.Equal("BAD_BODY", count.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task DeferIsBoundedByMaxReqTimeout()
    {
        var topic = Names.Unique("hdefer");
        Assert.Equal("OK", (await Nsqd.PostAsync($"/pub?topic={topic}&defer=60000", "x")).Body);
        var reply = await Nsqd.PostAsync($"/pub?topic={topic}&defer=60001", "x");
        Assert.Equal(400, reply.Status);
        Assert.Equal("INVALID_DEFER", reply.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task InfoReportsTheConfiguredMaxima()
    {
        var info = (await Nsqd.GetAsync("/info")).Json;
        Assert.Equal(300_000_000_000, info.GetProperty("max_heartbeat_interval").GetInt64());
        Assert.Equal(512 * 1024, info.GetProperty("max_output_buffer_size").GetInt64());
        Assert.Equal(1_000_000_000, info.GetProperty("max_output_buffer_timeout").GetInt64());
        Assert.Equal(3, info.GetProperty("max_deflate_level").GetInt32());
    }
}
