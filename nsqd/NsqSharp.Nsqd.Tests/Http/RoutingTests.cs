using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// nsqd's routing edges, which upstream gets from httprouter v1.3.0 (nsqd/http.go: httprouter.New() with
/// HandleMethodNotAllowed and internal/http_api's handlers) and we from the router nsqlookupd shares: the Allow
/// list on 405, OPTIONS, no automatic HEAD, case and clean-path redirects, per-request logging except /pub and
/// /mpub, and query strings parsed only by the handlers that read them.
/// </summary>
public sealed class RoutingTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private static readonly HttpClient NoRedirects = new(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };

    private NsqdInstance Nsqd => fixture.Nsqd;

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/pub", "OPTIONS, POST")]
    [InlineData("POST", "/stats", "GET, OPTIONS")]
    [InlineData("POST", "/config/log_level", "GET, OPTIONS, PUT")]
    [InlineData("DELETE", "/config/log_level", "GET, OPTIONS, PUT")]
    public async Task MethodNotAllowedListsTheAllowedMethods(string method, string path, string allow)
    {
        using var response = await SendAsync(method, path);
        Assert.Equal(405, (int)response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
        Assert.Equal("{\"message\":\"METHOD_NOT_ALLOWED\"}", await response.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task HeadPingIsMethodNotAllowed()
    {
        using var response = await SendAsync("HEAD", "/ping");
        Assert.Equal(405, (int)response.StatusCode);
        Assert.Equal("GET, OPTIONS", string.Join(", ", response.Content.Headers.Allow));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/pub", "OPTIONS, POST")]
    [InlineData("/config/max_msg_size", "GET, OPTIONS, PUT")]
    public async Task OptionsAnswersTheAllowedMethods(string path, string allow)
    {
        using var response = await SendAsync("OPTIONS", path);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        using var unknown = await SendAsync("OPTIONS", "/nope");
        Assert.Equal(404, (int)unknown.StatusCode);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/PING", 301, "/ping")]
    [InlineData("GET", "//stats?format=json", 301, "/stats?format=json")]
    [InlineData("GET", "/Config/Max_Msg_Size", 301, "/config/Max_Msg_Size")]
    [InlineData("POST", "/Topic/Create?topic=t", 307, "/topic/create?topic=t")]
    public async Task CaseAndUncleanPathsAreRedirected(string method, string target, int status, string location)
    {
        using var response = await SendAsync(method, target);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(location, response.Headers.Location?.OriginalString);
    }

    [Fact(Timeout = 30_000)]
    public async Task TrailingSlashRedirectsOnlyToARouteOfTheSameMethod()
    {
        // GET /stats exists; for POST httprouter finds nothing at /stats/ or /stats, so neither redirect nor 405.
        using var response = await SendAsync("POST", "/stats/");
        Assert.Equal(404, (int)response.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task PingIsPlainTextWithoutTheNsqHeader()
    {
        var reply = await Nsqd.GetAsync("/ping");
        Assert.Equal((200, "OK"), (reply.Status, reply.Body));
        Assert.Null(reply.NsqContentType);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("GET", "/ping?a;b", 200)]
    [InlineData("GET", "/info?%zz", 200)]
    [InlineData("GET", "/config/max_msg_size?a;b", 200)]
    public async Task QueriesAreParsedOnlyByHandlersThatReadThem(string method, string target, int status)
    {
        var (got, body) = await Nsqd.RawHttpAsync(method, target);
        Assert.True(got == status, $"{method} {target}: {got} {body}");
    }

    [Fact(Timeout = 30_000)]
    public async Task PubChecksItsBodyBeforeItsQuery()
    {
        // upstream doPUB: size, then empty body, then getTopicFromQuery
        var (status, body) = await Nsqd.RawHttpAsync("POST", "/pub?topic=a;b");
        Assert.Equal((400, "{\"message\":\"MSG_EMPTY\"}"), (status, body));
    }

    [Fact(Timeout = 30_000)]
    public async Task RequestsAreLoggedExceptPublishes()
    {
        var marker = Names.Unique("logged");
        await Nsqd.PublishAsync(marker, "not logged");
        Assert.Equal(200, (await Nsqd.GetAsync($"/info?marker={marker}")).Status);
        // The /info line comes after anything the /pub would have logged on the same stream.
        await Wait.UntilAsync(() => Nsqd.Output.Contains($"INFO: 200 GET /info?marker={marker} (127.0.0.1:", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the /info request in nsqd's log");
        Assert.DoesNotContain($"/pub?topic={marker}", Nsqd.Output, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string target)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), Nsqd.HttpBase + target);
        if (method is "POST" or "PUT")
        {
            request.Content = new ByteArrayContent([]);
        }

        return await NoRedirects.SendAsync(request);
    }
}
