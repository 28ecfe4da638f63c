using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Http;
using Xunit;

namespace NsqSharp.Common.Tests.Http;

/// <summary>
/// The shared router against upstream's httprouter v1.3.0 setup (nsqd/http.go, nsqlookupd/http.go: httprouter.New()
/// with HandleMethodNotAllowed, PanicHandler, NotFound and MethodNotAllowed from internal/http_api), on in-memory
/// requests. The route table is nsqd's shape: literal GET and POST routes, GET and PUT /config/:opt.
/// </summary>
public sealed class HttpRouterTests
{
    private readonly CapturingLogger _log = new();
    private readonly HttpRouter _router;

    public HttpRouterTests()
    {
        _router = new HttpRouter(_log)
        {
            MapException = e => e is FormatException ? ApiResult.Error(413, "MSG_TOO_BIG") : null,
        };
        _router.Handle("GET", "/ping", _ => ValueTask.FromResult(ApiResult.PlainText("OK")));
        _router.Handle("GET", "/info", _ => ValueTask.FromResult(ApiResult.Json(j =>
        {
            j.WriteStartObject();
            j.WriteString("version", "1.3.0");
            j.WriteEndObject();
        })));
        _router.Handle("GET", "/stats", _ => ValueTask.FromResult(ApiResult.Text("stats")));
        _router.Handle("POST", "/pub", _ => ValueTask.FromResult(ApiResult.Text("OK")), log: false);
        _router.Handle("POST", "/topic/create", _ => ValueTask.FromResult(ApiResult.Empty));
        _router.Handle("GET", "/config/:opt", r => ValueTask.FromResult(ApiResult.Text("get " + r.RouteValues["opt"])));
        _router.Handle("PUT", "/config/:opt", r => ValueTask.FromResult(ApiResult.Text("put " + r.RouteValues["opt"])));
        _router.Handle("GET", "/debug/pprof/", _ => ValueTask.FromResult(ApiResult.PlainText("index")));
        _router.Handle("GET", "/static/*file", r => ValueTask.FromResult(ApiResult.PlainText("file " + r.RouteValues["file"])));
        _router.Handle("GET", "/boom", _ => throw new InvalidOperationException("kaput"));
        _router.Handle("GET", "/refused", _ => throw new ApiException(503, "EXITING"));
        _router.Handle("GET", "/detailed", _ => throw new ApiException(500, "INTERNAL_ERROR", "PUB failed disk full"));
        _router.Handle("GET", "/mapped", _ => throw new FormatException());
    }

    [Fact]
    public async Task RoutesExactlyWithTheReplyShapes()
    {
        var ping = await SendAsync("GET", "/ping");
        Assert.Equal((200, "OK"), (ping.Status, ping.Body));
        Assert.Equal(ApiResult.TextContentType, ping.ContentType);
        Assert.Null(ping.NsqContentType); // PlainText: no NSQ header

        var info = await SendAsync("GET", "/info");
        Assert.Equal((200, """{"version":"1.3.0"}"""), (info.Status, info.Body));
        Assert.Equal("application/json; charset=utf-8", info.ContentType);
        Assert.Equal("nsq; version=1.0", info.NsqContentType);

        var text = await SendAsync("POST", "/pub");
        Assert.Equal((200, "OK", ApiResult.TextContentType, "nsq; version=1.0"), (text.Status, text.Body, text.ContentType, text.NsqContentType));

        var empty = await SendAsync("POST", "/topic/create");
        Assert.Equal((200, ""), (empty.Status, empty.Body));
        Assert.Null(empty.ContentType); // Go sniffs no type for an empty body
        Assert.Equal("nsq; version=1.0", empty.NsqContentType);
        Assert.Equal(0, empty.ContentLength);
    }

    [Theory]
    [InlineData("/not_found")]
    [InlineData("/put")]
    [InlineData("/topic")]
    [InlineData("/config")]
    [InlineData("/config/")] // a parameter is never empty
    [InlineData("/config/a/b")]
    [InlineData("/static")] // no: "/static/" is the redirect target, but only for GET (this is POST)
    public async Task UnknownPathsAreV1NotFound(string path)
    {
        var reply = await SendAsync("POST", path);
        Assert.Equal((404, """{"message":"NOT_FOUND"}"""), (reply.Status, reply.Body));
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        Assert.Equal("application/json; charset=utf-8", reply.ContentType);
        Assert.Null(reply.Allow);
    }

    [Theory]
    [InlineData("GET", "/pub", "OPTIONS, POST")]
    [InlineData("DELETE", "/topic/create", "OPTIONS, POST")]
    [InlineData("POST", "/stats", "GET, OPTIONS")]
    [InlineData("HEAD", "/ping", "GET, OPTIONS")] // no automatic HEAD in httprouter
    [InlineData("POST", "/config/log_level", "GET, OPTIONS, PUT")]
    [InlineData("PATCH", "/config/x", "GET, OPTIONS, PUT")]
    public async Task WrongMethodsAre405WithTheSortedAllowList(string method, string path, string allow)
    {
        var reply = await SendAsync(method, path);
        Assert.Equal(405, reply.Status);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        Assert.Equal(allow, reply.Allow);
        if (method != "HEAD")
        {
            Assert.Equal("""{"message":"METHOD_NOT_ALLOWED"}""", reply.Body);
        }
    }

    [Theory]
    [InlineData("/pub", "OPTIONS, POST")]
    [InlineData("/config/max_msg_size", "GET, OPTIONS, PUT")]
    [InlineData("/ping", "GET, OPTIONS")]
    public async Task OptionsAnswersTheAllowList(string path, string allow)
    {
        var reply = await SendAsync("OPTIONS", path);
        Assert.Equal((200, "", allow), (reply.Status, reply.Body, reply.Allow));
        Assert.Null(reply.NsqContentType);
        Assert.Empty(_log.Lines); // httprouter answers OPTIONS itself, unlogged
    }

    [Theory]
    [InlineData("/nope")]
    [InlineData("/PING")] // no OPTIONS routes, so no redirect either
    public async Task OptionsForAnUnknownPathIsNotFound(string path)
    {
        var reply = await SendAsync("OPTIONS", path);
        Assert.Equal((404, """{"message":"NOT_FOUND"}"""), (reply.Status, reply.Body));
    }

    [Theory]
    [InlineData("GET", "/stats/", "", 301, "/stats")]
    [InlineData("GET", "/info/", "?x=1", 301, "/info?x=1")]
    [InlineData("POST", "/pub/", "?topic=t", 307, "/pub?topic=t")]
    [InlineData("GET", "/debug/pprof", "", 301, "/debug/pprof/")] // adding the slash too
    [InlineData("GET", "/config/log_level/", "", 301, "/config/log_level")]
    [InlineData("PUT", "/config/log_level/", "", 307, "/config/log_level")]
    [InlineData("GET", "/static", "", 301, "/static/")]
    public async Task TrailingSlashesAreRedirected(string method, string path, string query, int status, string location)
    {
        var reply = await SendAsync(method, path, query);
        Assert.Equal(status, reply.Status);
        Assert.Equal(location, reply.Location);
        Assert.Null(reply.NsqContentType);
        Assert.Empty(_log.Lines);
    }

    [Theory]
    [InlineData("GET", "/PING", "", 301, "/ping")]
    [InlineData("GET", "/Stats", "?format=json", 301, "/stats?format=json")]
    [InlineData("GET", "//ping", "", 301, "/ping")]
    [InlineData("GET", "/ping//", "", 301, "/ping")]
    [InlineData("GET", "/x/../info", "", 301, "/info")]
    [InlineData("GET", "/DEBUG/PPROF", "", 301, "/debug/pprof/")]
    [InlineData("POST", "/Topic/Create", "?topic=t", 307, "/topic/create?topic=t")]
    [InlineData("GET", "/CONFIG/Log_Level", "", 301, "/config/Log_Level")] // the parameter keeps its spelling
    [InlineData("GET", "/Static/A", "", 301, "/static/A")]
    public async Task CaseAndUncleanPathsAreRedirectedToTheRoute(string method, string path, string query, int status, string location)
    {
        var reply = await SendAsync(method, path, query);
        Assert.Equal(status, reply.Status);
        Assert.Equal(location, reply.Location);
    }

    [Fact]
    public async Task RedirectsAreOnlyToRoutesOfTheSameMethod()
    {
        // GET /stats exists; POST /stats/ is neither redirected nor 405 (httprouter looks up the exact path).
        Assert.Equal(404, (await SendAsync("POST", "/stats/")).Status);
        Assert.Equal(404, (await SendAsync("GET", "/PUB")).Status);
        Assert.Equal(404, (await SendAsync("GET", "/pub/")).Status);
    }

    [Fact]
    public async Task RedirectBodiesAreGosForGetAndNoneOtherwise()
    {
        var get = await SendAsync("GET", "/stats/");
        Assert.Equal("<a href=\"/stats\">Moved Permanently</a>.\n\n", get.Body);
        Assert.Equal("text/html; charset=utf-8", get.ContentType);
        var post = await SendAsync("POST", "/pub/");
        Assert.Equal("", post.Body);
        Assert.Null(post.ContentType);
    }

    [Fact]
    public async Task RouteParametersReachTheHandler()
    {
        Assert.Equal("get max_msg_size", (await SendAsync("GET", "/config/max_msg_size")).Body);
        Assert.Equal("put log_level", (await SendAsync("PUT", "/config/log_level")).Body);
        Assert.Equal("file /", (await SendAsync("GET", "/static/")).Body);
        Assert.Equal("file /js/app.js", (await SendAsync("GET", "/static/js/app.js")).Body);
    }

    [Fact]
    public async Task AThrowingHandlerIsA500AndLogged()
    {
        var reply = await SendAsync("GET", "/boom");
        Assert.Equal((500, """{"message":"INTERNAL_ERROR"}"""), (reply.Status, reply.Body));
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Error && l.Text.Contains("panic in HTTP handler - kaput", StringComparison.Ordinal));
        Assert.Contains(_log.Lines, l => l.Level == LogLevel.Information && l.Text.StartsWith("500 GET /boom ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApiExceptionsAndMappedExceptionsAreTheirV1Errors()
    {
        Assert.Equal((503, """{"message":"EXITING"}"""), Pair(await SendAsync("GET", "/refused")));
        Assert.Equal((500, """{"message":"INTERNAL_ERROR","error":"PUB failed disk full"}"""), Pair(await SendAsync("GET", "/detailed")));
        Assert.Equal((413, """{"message":"MSG_TOO_BIG"}"""), Pair(await SendAsync("GET", "/mapped")));
        Assert.DoesNotContain(_log.Lines, l => l.Level == LogLevel.Error);
    }

    [Fact]
    public async Task RequestsAreLoggedAsHttpApiLogDoesUnlessTheRouteOptsOut()
    {
        await SendAsync("GET", "/stats", "?format=json");
        var line = Assert.Single(_log.Lines);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Matches(@"^200 GET /stats\?format=json \(10\.1\.2\.3:4567\) \d", line.Text);

        await SendAsync("POST", "/pub", "?topic=t"); // log: false, as upstream's /pub and /mpub
        Assert.Single(_log.Lines);

        await SendAsync("GET", "/nope");
        await SendAsync("GET", "/pub");
        Assert.Equal(new[] { "404 GET /nope", "405 GET /pub" }, _log.Lines.Skip(1).Select(l => string.Join(' ', l.Text.Split(' ')[..3])));
    }

    [Theory]
    [InlineData("", "/")]
    [InlineData("/", "/")]
    [InlineData("//", "/")]
    [InlineData("/a//b", "/a/b")]
    [InlineData("/a/b/", "/a/b/")]
    [InlineData("/a/./b", "/a/b")]
    [InlineData("/a/.", "/a/")]
    [InlineData("/a/..", "/")]
    [InlineData("/a/b/..", "/a")]
    [InlineData("/a/../", "/")]
    [InlineData("/../a", "/a")]
    [InlineData("a/b", "/a/b")]
    [InlineData("/a/..b/.c", "/a/..b/.c")]
    public void CleanPathIsHttproutersCleanPath(string path, string cleaned) => Assert.Equal(cleaned, HttpRouter.CleanPath(path));

    [Fact]
    public void BadRegistrationsAreRefused()
    {
        var router = new HttpRouter(_log);
        router.Handle("GET", "/a", _ => ValueTask.FromResult(ApiResult.Empty));
        Assert.Throws<ArgumentException>(() => router.Handle("GET", "/a", _ => ValueTask.FromResult(ApiResult.Empty)));
        Assert.Throws<ArgumentException>(() => router.Handle("GET", "a", _ => ValueTask.FromResult(ApiResult.Empty)));
        Assert.Throws<ArgumentException>(() => router.Handle("GET", "/*rest/x", _ => ValueTask.FromResult(ApiResult.Empty)));
        Assert.Throws<ArgumentException>(() => router.Handle("GET", "/x/:", _ => ValueTask.FromResult(ApiResult.Empty)));
        router.Handle("POST", "/a", _ => ValueTask.FromResult(ApiResult.Empty)); // another method is another route
    }

    private static (int, string) Pair(Reply reply) => (reply.Status, reply.Body);

    private async Task<Reply> SendAsync(string method, string path, string query = "")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query.Length == 0 ? null : query);
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("10.1.2.3");
        context.Connection.RemotePort = 4567;
        using var body = new MemoryStream();
        context.Response.Body = body;
        await _router.DispatchAsync(context);
        var headers = context.Response.Headers;
        return new Reply(context.Response.StatusCode, Encoding.UTF8.GetString(body.ToArray()), context.Response.ContentType,
            headers.TryGetValue("X-NSQ-Content-Type", out var nsq) ? nsq.ToString() : null,
            headers.TryGetValue("Allow", out var allow) ? allow.ToString() : null,
            headers.TryGetValue("Location", out var location) ? location.ToString() : null,
            context.Response.ContentLength);
    }

    private sealed record Reply(int Status, string Body, string? ContentType, string? NsqContentType, string? Allow, string? Location,
        long? ContentLength);

    private sealed class CapturingLogger : ILogger
    {
        private readonly List<(LogLevel Level, string Text)> _lines = [];

        public List<(LogLevel Level, string Text)> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
