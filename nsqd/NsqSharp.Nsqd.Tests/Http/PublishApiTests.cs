using System.Net.Http.Headers;
using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// /ping, /info, routing errors and the publish endpoints /pub and /mpub (text and binary) with
/// upstream's statuses and {"message":...} bodies (nsqd/http.go, http_test.go TestHTTPpub*,
/// TestHTTPmpub*, TestHTTPerrors, TestInfo).
/// </summary>
public sealed class PublishApiTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private async Task<long> DepthAsync(string topic) => (await Nsqd.TopicStatsAsync(topic))?.GetProperty("depth").GetInt64() ?? -1;

    [Fact(Timeout = 30_000)]
    public async Task PingAnswersOk()
    {
        var reply = await Nsqd.GetAsync("/ping");
        Assert.Equal(200, reply.Status);
        Assert.Equal("OK", reply.Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task InfoDescribesTheNode()
    {
        var reply = await Nsqd.GetAsync("/info");
        Assert.Equal(200, reply.Status);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        Assert.StartsWith("application/json", reply.ContentType, StringComparison.Ordinal);
        var info = reply.Json;
        Assert.Equal("1.3.0", info.GetProperty("version").GetString());
        Assert.Equal("127.0.0.1", info.GetProperty("broadcast_address").GetString());
        Assert.Equal(Environment.MachineName, info.GetProperty("hostname").GetString());
        Assert.Equal(Nsqd.TcpPort, info.GetProperty("tcp_port").GetInt32());
        Assert.Equal(Nsqd.HttpPort, info.GetProperty("http_port").GetInt32());
        Assert.InRange(info.GetProperty("start_time").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(60_000_000_000, info.GetProperty("max_heartbeat_interval").GetInt64());
        Assert.Equal(65_536, info.GetProperty("max_output_buffer_size").GetInt64());
        Assert.Equal(30_000_000_000, info.GetProperty("max_output_buffer_timeout").GetInt64());
        Assert.Equal(6, info.GetProperty("max_deflate_level").GetInt32());
        Assert.Equal("", info.GetProperty("topology_zone").GetString());
        Assert.Equal("", info.GetProperty("topology_region").GetString());
    }

    [Theory(Timeout = 30_000)]
    [InlineData("POST", "/stats")]
    [InlineData("POST", "/info")]
    [InlineData("GET", "/pub")]
    [InlineData("GET", "/mpub")]
    [InlineData("GET", "/topic/create")]
    [InlineData("PUT", "/channel/delete")]
    [InlineData("DELETE", "/topic/delete")]
    [InlineData("POST", "/ping")]
    public async Task WrongMethodsAre405(string method, string path)
    {
        var reply = await Nsqd.SendAsync(new HttpMethod(method), path, method == "GET" || method == "DELETE" ? null : []);
        Assert.Equal(405, reply.Status);
        Assert.Equal("{\"message\":\"METHOD_NOT_ALLOWED\"}", reply.Body);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/not_found")]
    [InlineData("/put")]
    [InlineData("/create_topic")]
    [InlineData("/topic")]
    public async Task UnknownPathsAre404(string path)
    {
        var reply = await Nsqd.GetAsync(path);
        Assert.Equal(404, reply.Status);
        Assert.Equal("{\"message\":\"NOT_FOUND\"}", reply.Body);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/stats/", 301, "/stats")]
    [InlineData("GET", "/info/?x=1", 301, "/info?x=1")]
    [InlineData("POST", "/pub/?topic=t", 307, "/pub?topic=t")]
    public async Task TrailingSlashesAreRedirectedLikeHttprouter(string method, string pathAndQuery, int status, string location)
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(new HttpMethod(method), Nsqd.HttpBase + pathAndQuery);
        using var response = await http.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(location, response.Headers.Location?.OriginalString);
    }

    [Fact(Timeout = 30_000)]
    public async Task PubPublishesTheBody()
    {
        // upstream TestHTTPpub
        var topic = Names.Unique("httppub");
        var reply = await Nsqd.PostAsync($"/pub?topic={topic}", "test message");
        Assert.Equal(200, reply.Status);
        Assert.Equal("OK", reply.Body);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        Assert.Equal(1, await DepthAsync(topic));

        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        Assert.Equal("test message", (await conn.ExpectMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task PubKeepsBinaryBodiesIntact()
    {
        var topic = Names.Unique("httpbin");
        var body = new byte[4096];
        new Random(11).NextBytes(body);
        Assert.Equal("OK", (await Nsqd.PostAsync($"/pub?topic={topic}", body)).Body);
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        Assert.Equal(body, (await conn.ExpectMessageAsync()).Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task PubOfAnEmptyBodyIsMsgEmpty()
    {
        // upstream TestHTTPpubEmpty
        var topic = Names.Unique("httpempty");
        var reply = await Nsqd.PostAsync($"/pub?topic={topic}", []);
        Assert.Equal(400, reply.Status);
        Assert.Equal("{\"message\":\"MSG_EMPTY\"}", reply.Body);
        Assert.True(await DepthAsync(topic) <= 0);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/pub", 400, "MISSING_ARG_TOPIC")]
    [InlineData("/pub?channel=x", 400, "MISSING_ARG_TOPIC")]
    [InlineData("/pub?topic=bad!topic", 400, "INVALID_TOPIC")]
    [InlineData("/pub?topic=", 400, "INVALID_TOPIC")]
    [InlineData("/pub?topic=0123456789012345678901234567890123456789012345678901234567890123x", 400, "INVALID_TOPIC")]
    [InlineData("/pub?topic=ok&defer=-1", 400, "INVALID_DEFER")]
    [InlineData("/pub?topic=ok&defer=soon", 400, "INVALID_DEFER")]
    [InlineData("/pub?topic=ok&defer=3600001", 400, "INVALID_DEFER")]
    [InlineData("/mpub", 400, "MISSING_ARG_TOPIC")]
    [InlineData("/mpub?topic=no:colons", 400, "INVALID_TOPIC")]
    public async Task PublishArgumentErrors(string pathAndQuery, int status, string message)
    {
        var reply = await Nsqd.PostAsync(pathAndQuery, "body");
        Assert.Equal(status, reply.Status);
        Assert.Equal(message, reply.Message);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/pub?topic=ok%zz")]
    [InlineData("/pub?topic=ok%")]
    [InlineData("/mpub?topic=ok;x=1")]
    [InlineData("/stats?format=json&%gg=1")]
    [InlineData("/topic/create?topic=a%2")]
    public async Task MalformedQueryStringsAreInvalidRequest(string target)
    {
        // Go's url.ParseQuery rejects bad escapes and semicolons; upstream answers INVALID_REQUEST
        var (status, body) = await Nsqd.RawHttpAsync(target.StartsWith("/stats", StringComparison.Ordinal) ? "GET" : "POST", target, "body");
        Assert.Equal(400, status);
        Assert.Equal("{\"message\":\"INVALID_REQUEST\"}", body);
    }

    [Fact(Timeout = 30_000)]
    public async Task PubWithDeferHoldsTheMessage()
    {
        // upstream TestHTTPpubDefer
        var topic = Names.Unique("httpdefer");
        await Nsqd.PostAsync($"/topic/create?topic={topic}");
        await Nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch");
        var reply = await Nsqd.PostAsync($"/pub?topic={topic}&defer=1000", "test message");
        Assert.Equal("OK", reply.Body);
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 1);

        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        Assert.Equal("test message", (await conn.ExpectMessageAsync()).BodyText);
        await Nsqd.WaitForChannelAsync(topic, "ch", "deferred_count", 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task PubWithDeferOfTheMaximumIsAccepted()
    {
        var topic = Names.Unique("httpdefermax");
        Assert.Equal("OK", (await Nsqd.PostAsync($"/pub?topic={topic}&defer=3600000", "x")).Body);
        Assert.Equal("OK", (await Nsqd.PostAsync($"/pub?topic={topic}&defer=0", "y")).Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubSplitsTextOnNewlines()
    {
        // upstream TestHTTPmpub
        var topic = Names.Unique("httpmpub");
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}", string.Join('\n', Enumerable.Repeat("test message", 4)));
        Assert.Equal("OK", reply.Body);
        Assert.Equal(4, await DepthAsync(topic));
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubDropsEmptyLines()
    {
        // upstream TestHTTPmpubEmpty (trailing newline) plus empty lines in between
        var topic = Names.Unique("httpmpube");
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}", "a\n\nb\n\n\nc\nd\n");
        Assert.Equal("OK", reply.Body);
        Assert.Equal(4, await DepthAsync(topic));
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 10");
        var bodies = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            bodies.Add((await conn.ExpectMessageAsync()).BodyText);
        }

        Assert.Equal(["a", "b", "c", "d"], bodies);
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubOfNothingIsOkAndPublishesNothing()
    {
        var topic = Names.Unique("httpmpubnone");
        Assert.Equal("OK", (await Nsqd.PostAsync($"/mpub?topic={topic}", "\n\n")).Body);
        Assert.Equal(0, await DepthAsync(topic));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("true")]
    [InlineData("1")]
    [InlineData("non_normalized_binary_param")]
    [InlineData("t")]
    [InlineData("")]
    public async Task MpubBinaryModeAcceptsTheTcpBodyFormat(string binary)
    {
        // upstream TestHTTPmpubBinary / TestHTTPmpubForNonNormalizedBinaryParam: only
        // true/1/false/0 are understood, anything else means binary
        var topic = Names.Unique("httpmpubbin");
        var body = RawConnection.MultiBody(Enumerable.Range(0, 5).Select(_ => new byte[100]).ToList());
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}&binary={binary}", body);
        Assert.Equal("OK", reply.Body);
        Assert.Equal(5, await DepthAsync(topic));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("false")]
    [InlineData("0")]
    public async Task MpubBinaryFalseIsTextMode(string binary)
    {
        var topic = Names.Unique("httpmpubtext");
        Assert.Equal("OK", (await Nsqd.PostAsync($"/mpub?topic={topic}&binary={binary}", "one\ntwo")).Body);
        Assert.Equal(2, await DepthAsync(topic));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(new byte[] { 0, 0 }, "BAD_BODY")]
    [InlineData(new byte[] { 0, 0, 0, 0 }, "BAD_BODY")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0 }, "BAD_MESSAGE")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 0 }, "BAD_MESSAGE")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0, 5, 1, 2 }, "BAD_MESSAGE")]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0x10, 0, 1, 1 }, "BAD_MESSAGE")]
    public async Task MpubBinaryErrorsAre413WithTheTcpCode(byte[] body, string message)
    {
        var topic = Names.Unique("httpmpubbad");
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}&binary=true", body);
        Assert.Equal(413, reply.Status);
        Assert.Equal(message, reply.Message);
        Assert.True(await DepthAsync(topic) <= 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task MpubBinaryIsAtomic()
    {
        var topic = Names.Unique("httpmpubatomic");
        var body = RawConnection.MultiBody(["ok"u8.ToArray(), "fine"u8.ToArray(), []]);
        var reply = await Nsqd.PostAsync($"/mpub?topic={topic}&binary=1", body);
        Assert.Equal(413, reply.Status);
        Assert.Equal("BAD_MESSAGE", reply.Message);
        Assert.Equal(0, await DepthAsync(topic));
    }

    [Fact(Timeout = 30_000)]
    public async Task ChunkedUploadsArePublished()
    {
        var topic = Names.Unique("httpchunked");
        using var content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("chunked one\nchunked two")));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{Nsqd.HttpBase}/mpub?topic={topic}") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        var reply = await HttpReply.FromAsync(await Nsqd.Http.SendAsync(request));
        Assert.Equal("OK", reply.Body);
        Assert.Equal(2, await DepthAsync(topic));
    }
}
