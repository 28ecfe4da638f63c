using System.Net;
using System.Text.Json;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

/// <summary>HTTP API shapes, status codes and error texts as upstream nsqlookupd/http.go.</summary>
public sealed class HttpApiTests
{
    private const int T = 30_000;

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> SendAsync(
        TestLookupd lookupd, HttpMethod method, string url)
    {
        // Sent verbatim: HttpClient would otherwise re-escape malformed %-sequences the tests need.
        var uri = new Uri(lookupd.Http.BaseAddress + url.TrimStart('/'),
            new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(method, uri);
        var response = await lookupd.Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(TestLookupd l, string url) =>
        SendAsync(l, HttpMethod.Get, url);

    private static Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> PostAsync(TestLookupd l, string url) =>
        SendAsync(l, HttpMethod.Post, url);

    [Fact(Timeout = T)]
    public async Task PingAndInfo()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        var ping = await GetAsync(lookupd, "/ping");
        Assert.Equal(HttpStatusCode.OK, ping.Status);
        Assert.Equal("OK", ping.Body);
        Assert.False(ping.Response.Headers.Contains("X-NSQ-Content-Type"));

        var info = await GetAsync(lookupd, "/info");
        Assert.Equal("""{"version":"1.3.0"}""", info.Body);
        Assert.Equal("application/json", info.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nsq; version=1.0", Assert.Single(info.Response.Headers.GetValues("X-NSQ-Content-Type")));
    }

    [Fact(Timeout = T)]
    public async Task LookupShapesAndErrors()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await GetAsync(lookupd, "/lookup")));
        Assert.Equal((HttpStatusCode.NotFound, """{"message":"TOPIC_NOT_FOUND"}"""), Strip(await GetAsync(lookupd, "/lookup?topic=nope")));
        Assert.Equal((HttpStatusCode.NotFound, """{"message":"TOPIC_NOT_FOUND"}"""), Strip(await GetAsync(lookupd, "/lookup?topic=")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_REQUEST"}"""), Strip(await GetAsync(lookupd, "/lookup?topic=%zz")));

        await using var node = await lookupd.ConnectProducerAsync(4150, 4151, "node1.local");
        await node.CommandAsync("REGISTER orders billing");
        var lookup = await GetAsync(lookupd, "/lookup?topic=orders");
        Assert.Equal(HttpStatusCode.OK, lookup.Status);
        using var doc = JsonDocument.Parse(lookup.Body);
        Assert.Equal(["channels", "producers"], Names(doc.RootElement));
        Assert.Equal("billing", doc.RootElement.GetProperty("channels")[0].GetString());
        var producer = doc.RootElement.GetProperty("producers")[0];
        Assert.Equal(
            ["remote_address", "hostname", "broadcast_address", "tcp_port", "http_port", "version", "topology_zone", "topology_region"],
            Names(producer));
        Assert.Equal("node1.local", producer.GetProperty("broadcast_address").GetString());
        Assert.Equal(4150, producer.GetProperty("tcp_port").GetInt32());
        Assert.Equal(4151, producer.GetProperty("http_port").GetInt32());
        Assert.StartsWith("127.0.0.1:", producer.GetProperty("remote_address").GetString());

        // Topic created by hand: found, with no producers.
        await PostAsync(lookupd, "/topic/create?topic=empty");
        Assert.Equal("""{"channels":[],"producers":[]}""", (await GetAsync(lookupd, "/lookup?topic=empty")).Body);
    }

    [Fact(Timeout = T)]
    public async Task TopicsChannelsNodes()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        Assert.Equal("""{"topics":[]}""", (await GetAsync(lookupd, "/topics")).Body);
        Assert.Equal("""{"producers":[]}""", (await GetAsync(lookupd, "/nodes")).Body);
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await GetAsync(lookupd, "/channels")));
        Assert.Equal("""{"channels":[]}""", (await GetAsync(lookupd, "/channels?topic=unknown")).Body);

        await using var node = await lookupd.ConnectProducerAsync();
        await node.CommandAsync("REGISTER b c2");
        await node.CommandAsync("REGISTER b c1");
        await node.CommandAsync("REGISTER a");
        Assert.Equal("""{"topics":["a","b"]}""", (await GetAsync(lookupd, "/topics")).Body);
        Assert.Equal("""{"channels":["c1","c2"]}""", (await GetAsync(lookupd, "/channels?topic=b")).Body);

        using var nodes = JsonDocument.Parse((await GetAsync(lookupd, "/nodes")).Body);
        var entry = nodes.RootElement.GetProperty("producers")[0];
        Assert.Equal(
            ["remote_address", "hostname", "broadcast_address", "tcp_port", "http_port", "version", "topology_zone", "topology_region", "tombstones", "topics"],
            Names(entry));
        Assert.Equal("[false,false]", entry.GetProperty("tombstones").GetRawText());
        Assert.Equal("""["a","b"]""", entry.GetProperty("topics").GetRawText());
    }

    [Fact(Timeout = T)]
    public async Task CreateAndDeleteTopicsAndChannels()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/topic/create")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/topic/create?topic=a*b")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/topic/create?topic=")));

        var created = await PostAsync(lookupd, "/topic/create?topic=t1");
        Assert.Equal(HttpStatusCode.OK, created.Status);
        Assert.Equal("", created.Body);
        Assert.Equal("nsq; version=1.0", Assert.Single(created.Response.Headers.GetValues("X-NSQ-Content-Type")));

        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/channel/create?channel=c")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/channel/create?topic=%21&channel=c")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_CHANNEL"}"""), Strip(await PostAsync(lookupd, "/channel/create?topic=t2")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_ARG_CHANNEL"}"""), Strip(await PostAsync(lookupd, "/channel/create?topic=t2&channel=a+b")));

        Assert.Equal(HttpStatusCode.OK, (await PostAsync(lookupd, "/channel/create?topic=t2&channel=c")).Status);
        Assert.Equal("""{"topics":["t1","t2"]}""", (await GetAsync(lookupd, "/topics")).Body); // channel create made the topic
        Assert.Equal("""{"channels":["c"]}""", (await GetAsync(lookupd, "/channels?topic=t2")).Body);

        Assert.Equal((HttpStatusCode.NotFound, """{"message":"CHANNEL_NOT_FOUND"}"""), Strip(await PostAsync(lookupd, "/channel/delete?topic=t2&channel=zz")));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(lookupd, "/channel/delete?topic=t2&channel=c")).Status);
        Assert.Equal("""{"channels":[]}""", (await GetAsync(lookupd, "/channels?topic=t2")).Body);

        await PostAsync(lookupd, "/channel/create?topic=t1&channel=x");
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/topic/delete")));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(lookupd, "/topic/delete?topic=t1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(lookupd, "/topic/delete?topic=never-existed")).Status);
        Assert.Equal("""{"topics":["t2"]}""", (await GetAsync(lookupd, "/topics")).Body);
        Assert.Equal("""{"channels":[]}""", (await GetAsync(lookupd, "/channels?topic=t1")).Body);
    }

    [Fact(Timeout = T)]
    public async Task TombstoneHidesProducerFromLookupForItsLifetime()
    {
        await using var lookupd = await TestLookupd.StartAsync(o => o.TombstoneLifetime = TimeSpan.FromSeconds(45));
        await using var a = await lookupd.ConnectProducerAsync(4150, 4151, "10.0.0.1");
        await using var b = await lookupd.ConnectProducerAsync(5150, 5151, "10.0.0.2");
        await a.CommandAsync("REGISTER t");
        await b.CommandAsync("REGISTER t");
        await a.CommandAsync("REGISTER other");

        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_TOPIC"}"""), Strip(await PostAsync(lookupd, "/topic/tombstone?node=10.0.0.1:4151")));
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"MISSING_ARG_NODE"}"""), Strip(await PostAsync(lookupd, "/topic/tombstone?topic=t")));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(lookupd, "/topic/tombstone?topic=t&node=10.0.0.1:4151")).Status);

        Assert.Equal(["10.0.0.2"], await LookupBroadcastAddressesAsync(lookupd, "t"));
        Assert.Equal(["10.0.0.1"], await LookupBroadcastAddressesAsync(lookupd, "other")); // per topic

        using (var nodes = JsonDocument.Parse((await GetAsync(lookupd, "/nodes")).Body))
        {
            var producers = nodes.RootElement.GetProperty("producers");
            Assert.Equal(2, producers.GetArrayLength()); // tombstoned nodes stay in /nodes
            foreach (var node in producers.EnumerateArray())
            {
                if (node.GetProperty("broadcast_address").GetString() == "10.0.0.1")
                {
                    Assert.Equal("""["other","t"]""", node.GetProperty("topics").GetRawText());
                    Assert.Equal("[false,true]", node.GetProperty("tombstones").GetRawText());
                }
            }
        }

        using (var debug = JsonDocument.Parse((await GetAsync(lookupd, "/debug")).Body))
        {
            var tombstoned = 0;
            foreach (var p in debug.RootElement.GetProperty("topic:t:").EnumerateArray())
            {
                tombstoned += p.GetProperty("tombstoned").GetBoolean() ? 1 : 0;
            }

            Assert.Equal(1, tombstoned);
        }

        lookupd.Clock.Advance(TimeSpan.FromSeconds(46));
        await a.CommandAsync("PING");
        await b.CommandAsync("PING");
        Assert.Equal(["10.0.0.1", "10.0.0.2"], await LookupBroadcastAddressesAsync(lookupd, "t"));
    }

    [Fact(Timeout = T)]
    public async Task InactiveProducersAreFilteredUntilTheyPing()
    {
        await using var lookupd = await TestLookupd.StartAsync(o => o.InactiveProducerTimeout = TimeSpan.FromSeconds(300));
        await using var node = await lookupd.ConnectProducerAsync();
        await node.CommandAsync("REGISTER t");
        Assert.Single(await LookupBroadcastAddressesAsync(lookupd, "t"));

        lookupd.Clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Empty(await LookupBroadcastAddressesAsync(lookupd, "t"));
        Assert.Equal("""{"producers":[]}""", (await GetAsync(lookupd, "/nodes")).Body);
        Assert.Equal("""{"topics":["t"]}""", (await GetAsync(lookupd, "/topics")).Body);

        Assert.Equal("OK", await node.CommandAsync("PING"));
        Assert.Single(await LookupBroadcastAddressesAsync(lookupd, "t"));
    }

    [Fact(Timeout = T)]
    public async Task RoutingEdges()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        Assert.Equal((HttpStatusCode.NotFound, """{"message":"NOT_FOUND"}"""), Strip(await GetAsync(lookupd, "/nope")));

        var wrongMethod = await GetAsync(lookupd, "/topic/create?topic=x");
        Assert.Equal((HttpStatusCode.MethodNotAllowed, """{"message":"METHOD_NOT_ALLOWED"}"""), Strip(wrongMethod));
        Assert.Equal(["OPTIONS", "POST"], wrongMethod.Response.Content.Headers.Allow); // sorted with OPTIONS, as httprouter
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await PostAsync(lookupd, "/ping")).Status);

        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false })
        {
            BaseAddress = lookupd.Http.BaseAddress,
        };
        var slash = await noRedirect.GetAsync("/topics/?x=1");
        Assert.Equal(HttpStatusCode.MovedPermanently, slash.StatusCode);
        Assert.Equal("/topics?x=1", slash.Headers.Location?.OriginalString);
        var postSlash = await noRedirect.PostAsync("/topic/create/?topic=x", null);
        Assert.Equal(HttpStatusCode.TemporaryRedirect, postSlash.StatusCode); // httprouter v1.3.0: 307 for every method but GET
        Assert.Equal("/topic/create?topic=x", postSlash.Headers.Location?.OriginalString);
        var cased = await noRedirect.GetAsync("/PING");
        Assert.Equal(HttpStatusCode.MovedPermanently, cased.StatusCode);
        Assert.Equal("/ping", cased.Headers.Location?.OriginalString);

        using var options = new HttpRequestMessage(HttpMethod.Options, "/lookup");
        var allowed = await lookupd.Http.SendAsync(options);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Contains("GET", allowed.Content.Headers.Allow);

        // Semicolons are not separators (Go 1.17+): the whole query is invalid.
        Assert.Equal((HttpStatusCode.BadRequest, """{"message":"INVALID_REQUEST"}"""), Strip(await GetAsync(lookupd, "/channels?topic=a;b")));
        // First value wins for repeated keys; '+' decodes to space.
        await PostAsync(lookupd, "/topic/create?topic=first&topic=second");
        Assert.Equal("""{"topics":["first"]}""", (await GetAsync(lookupd, "/topics")).Body);
    }

    private static async Task<List<string>> LookupBroadcastAddressesAsync(TestLookupd lookupd, string topic)
    {
        var (status, body, _) = await GetAsync(lookupd, "/lookup?topic=" + topic);
        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(body);
        var result = new List<string>();
        foreach (var p in doc.RootElement.GetProperty("producers").EnumerateArray())
        {
            result.Add(p.GetProperty("broadcast_address").GetString()!);
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    private static (HttpStatusCode, string) Strip((HttpStatusCode Status, string Body, HttpResponseMessage Response) r) =>
        (r.Status, r.Body);

    private static List<string> Names(JsonElement element)
    {
        var names = new List<string>();
        foreach (var p in element.EnumerateObject())
        {
            names.Add(p.Name);
        }

        return names;
    }
}
