using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Tests.Support;

/// <summary>One auth request as nsqd sent it (upstream: GET /auth?remote_ip=&amp;tls=&amp;secret=&amp;common_name=).</summary>
public sealed record AuthRequest(string Method, string Path, string? RemoteIp, string? Tls, string? Secret, string? CommonName);

/// <summary>
/// A tiny auth server on 127.0.0.1 answering like an upstream --auth-http-address endpoint:
/// the JSON reply (or status) is chosen by the secret. Every request is recorded.
/// </summary>
public sealed class TestAuthServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<int, (int Status, string Body)>> _replies = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    private TestAuthServer(WebApplication app)
    {
        _app = app;
    }

    public ConcurrentQueue<AuthRequest> Requests { get; } = new();

    public string Address { get; private set; } = "";

    public static async Task<TestAuthServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new TestAuthServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address).Authority;
        return server;
    }

    /// <summary>Sets the reply for a secret; the function gets the 1-based number of the request for that secret.</summary>
    public void Reply(string secret, Func<int, (int Status, string Body)> reply) => _replies[secret] = reply;

    public void Reply(string secret, string json) => Reply(secret, _ => (200, json));

    public int CountFor(string secret) => _counts.TryGetValue(secret, out var n) ? n : 0;

    private async Task HandleAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var form = ctx.Request.HasFormContentType ? await ctx.Request.ReadFormAsync().ConfigureAwait(false) : null;
        string? Field(string name) => form != null && form.TryGetValue(name, out var f) ? f.ToString() : q.TryGetValue(name, out var v) ? v.ToString() : null;
        var secret = Field("secret") ?? "";
        Requests.Enqueue(new AuthRequest(ctx.Request.Method, ctx.Request.Path.Value ?? "", Field("remote_ip"), Field("tls"), secret, Field("common_name")));
        var n = _counts.AddOrUpdate(secret, 1, (_, c) => c + 1);
        var (status, body) = _replies.TryGetValue(secret, out var reply) ? reply(n) : (403, "{\"message\":\"unknown secret\"}");
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
