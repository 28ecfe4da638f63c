using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// AUTH against a test auth server (--auth-http-address): upstream's request (GET /auth with
/// remote_ip, tls, secret, common_name), reply handling and the E_AUTH_* / E_UNAUTHORIZED errors
/// (protocol_v2.go AUTH/CheckAuth, internal/auth, TestClientAuth).
/// </summary>
public sealed class AuthTests : IClassFixture<AuthNsqdFixture>
{
    private readonly AuthNsqdFixture _fixture;

    public AuthTests(AuthNsqdFixture fixture)
    {
        _fixture = fixture;
        var auth = fixture.Auth;
        auth.Reply("none", "{\"ttl\":1, \"authorizations\":[]}");
        auth.Reply("all", """
            {"ttl":3600,"identity":"alice","identity_url":"https://id.example/alice",
             "authorizations":[{"topic":".*","channels":[".*"],"permissions":["subscribe","publish"]}]}
            """);
        auth.Reply("test-only", """
            {"ttl":10, "authorizations":
              [{"topic":"test", "channels":[".*"], "permissions":["subscribe","publish"]}]}
            """);
        auth.Reply("two", """
            {"ttl":60,"identity":"bob","authorizations":[
              {"topic":"^authpub_","channels":[""],"permissions":["publish"]},
              {"topic":"^authsub_","channels":["^allowed$"],"permissions":["subscribe"]}]}
            """);
        auth.Reply("down", _ => (500, "{\"message\":\"INTERNAL_ERROR\"}"));
        auth.Reply("garbage", _ => (200, "this is not json"));
        auth.Reply("ttl0", "{\"ttl\":0,\"authorizations\":[{\"topic\":\".*\",\"channels\":[\".*\"],\"permissions\":[\"publish\"]}]}");
        auth.Reply("badperm", "{\"ttl\":60,\"authorizations\":[{\"topic\":\".*\",\"channels\":[\".*\"],\"permissions\":[\"admin\"]}]}");
        auth.Reply("badregex", "{\"ttl\":60,\"authorizations\":[{\"topic\":\"(\",\"channels\":[\".*\"],\"permissions\":[\"publish\"]}]}");
        auth.Reply("short", """{"ttl":1,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish"]}]}""");
        auth.Reply("expiring", n => n == 1
            ? (200, """{"ttl":1,"authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish"]}]}""")
            : (500, "{}"));
    }

    private NsqdInstance Nsqd => _fixture.Nsqd;

    private TestAuthServer Auth => _fixture.Auth;

    private async Task<RawConnection> AuthenticatedAsync(string secret, string expectedReply)
    {
        var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync("AUTH", Encoding.UTF8.GetBytes(secret));
        await conn.ExpectResponseAsync(expectedReply);
        return conn;
    }

    [Fact(Timeout = 30_000)]
    public async Task NegotiationAnnouncesThatAuthIsRequired()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync();
        Assert.True(json.GetProperty("auth_required").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task SuccessfulAuthRepliesWithIdentityAndPermissionCount()
    {
        // upstream TestClientAuth (success case), including the exact JSON reply
        await using var conn = await AuthenticatedAsync("test-only", """{"identity":"","identity_url":"","permission_count":1}""");
        await conn.SendAsync("SUB test ch");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task PermissionCountIsTheNumberOfAuthorizations()
    {
        await using var conn = await AuthenticatedAsync("two", """{"identity":"bob","identity_url":"","permission_count":2}""");
        await using var conn2 = await AuthenticatedAsync("all", """{"identity":"alice","identity_url":"https://id.example/alice","permission_count":1}""");
    }

    [Fact(Timeout = 30_000)]
    public async Task TheAuthServerIsAskedLikeUpstream()
    {
        var secret = "all";
        var before = Auth.Requests.Count;
        await using var conn = await AuthenticatedAsync(secret, """{"identity":"alice","identity_url":"https://id.example/alice","permission_count":1}""");
        var request = Auth.Requests.Skip(before).Last(r => r.Secret == secret);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/auth", request.Path);
        Assert.Equal("127.0.0.1", request.RemoteIp);
        Assert.Equal("false", request.Tls);
        Assert.Equal("", request.CommonName);
    }

    [Fact(Timeout = 30_000)]
    public async Task NoAuthorizationsIsFatalUnauthorized()
    {
        // upstream TestClientAuth (failure case)
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync("AUTH", "none"u8.ToArray());
        await conn.ExpectFatalAsync("E_UNAUTHORIZED AUTH no authorizations found");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("down")]
    [InlineData("garbage")]
    [InlineData("ttl0")]
    [InlineData("badperm")]
    [InlineData("badregex")]
    [InlineData("nobody-knows-this-secret")]
    public async Task AuthServerFailuresAreFatalAuthFailed(string secret)
    {
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync("AUTH", Encoding.UTF8.GetBytes(secret));
        await conn.ExpectFatalAsync("E_AUTH_FAILED AUTH failed");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("PUB")]
    [InlineData("MPUB")]
    [InlineData("DPUB")]
    [InlineData("SUB")]
    public async Task CommandsBeforeAuthAreFatal(string command)
    {
        var topic = Names.Unique("noauth");
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        switch (command)
        {
            case "PUB":
                await conn.PublishAsync(topic, "x");
                break;
            case "MPUB":
                await conn.MultiPublishAsync(topic, ["x"u8.ToArray()]);
                break;
            case "DPUB":
                await conn.SendAsync($"DPUB {topic} 10", "x"u8.ToArray());
                break;
            default:
                await conn.SendAsync($"SUB {topic} ch");
                break;
        }

        await conn.ExpectFatalAsync($"E_AUTH_FIRST AUTH required before {command}");
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthorizationsAreEnforcedPerTopicChannelAndPermission()
    {
        var pubTopic = Names.Unique("authpub");
        var subTopic = Names.Unique("authsub");
        const string reply = """{"identity":"bob","identity_url":"","permission_count":2}""";

        await using (var conn = await AuthenticatedAsync("two", reply))
        {
            await conn.PublishAsync(pubTopic, "allowed");
            await conn.ExpectResponseAsync("OK");
            await conn.MultiPublishAsync(pubTopic, ["a"u8.ToArray()]);
            await conn.ExpectResponseAsync("OK");
            await conn.PublishAsync(subTopic, "publish not allowed here");
            await conn.ExpectFatalAsync($"E_UNAUTHORIZED AUTH failed for PUB on \"{subTopic}\" \"\"");
        }

        await using (var conn = await AuthenticatedAsync("two", reply))
        {
            await conn.SendAsync($"SUB {subTopic} other");
            await conn.ExpectFatalAsync($"E_UNAUTHORIZED AUTH failed for SUB on \"{subTopic}\" \"other\"");
        }

        await using (var conn = await AuthenticatedAsync("two", reply))
        {
            await conn.SendAsync($"SUB {pubTopic} allowed");
            await conn.ExpectFatalAsync($"E_UNAUTHORIZED AUTH failed for SUB on \"{pubTopic}\" \"allowed\"");
        }

        await using (var conn = await AuthenticatedAsync("two", reply))
        {
            await conn.SendAsync($"SUB {subTopic} allowed");
            await conn.ExpectResponseAsync("OK");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthTwiceIsFatal()
    {
        await using var conn = await AuthenticatedAsync("all", """{"identity":"alice","identity_url":"https://id.example/alice","permission_count":1}""");
        await conn.SendAsync("AUTH", "all"u8.ToArray());
        await conn.ExpectFatalAsync("E_INVALID AUTH already set");
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthWithParametersIsFatal()
    {
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync("AUTH secret", "all"u8.ToArray());
        await conn.ExpectFatalAsync("E_INVALID AUTH invalid number of parameters");
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_BODY AUTH invalid body size 0")]
    [InlineData(-1, "E_BAD_BODY AUTH invalid body size -1")]
    [InlineData(5_242_881, "E_BAD_BODY AUTH body too big 5242881 > 5242880")]
    public async Task BadAuthBodySizesAreFatal(int size, string error)
    {
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.WriteAsync([.. "AUTH\n"u8.ToArray(), .. RawConnection.Int32(size)]);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthAfterSubscribeIsFatal()
    {
        await using var conn = await AuthenticatedAsync("all", """{"identity":"alice","identity_url":"https://id.example/alice","permission_count":1}""");
        await conn.SendAsync($"SUB {Names.Unique("authsub")} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("AUTH", "all"u8.ToArray());
        await conn.ExpectFatalAsync("E_INVALID cannot AUTH in current state");
    }

    [Fact(Timeout = 30_000)]
    public async Task ExpiredAuthorizationsAreFetchedAgain()
    {
        var topic = Names.Unique("authttl");
        var before = Auth.CountFor("short");
        await using var conn = await AuthenticatedAsync("short", """{"identity":"","identity_url":"","permission_count":1}""");
        await conn.PublishAsync(topic, "within ttl");
        await conn.ExpectResponseAsync("OK");
        Assert.Equal(before + 1, Auth.CountFor("short"));

        await Wait.UntilAsync(async () =>
        {
            await conn.PublishAsync(topic, "maybe after ttl");
            await conn.ExpectResponseAsync("OK");
            return Auth.CountFor("short") > before + 1;
        }, TimeSpan.FromSeconds(5), "authorizations re-queried after their 1s ttl");
    }

    [Fact(Timeout = 30_000)]
    public async Task FailedRefreshIsFatalAuthFailed()
    {
        var topic = Names.Unique("authrefresh");
        await using var conn = await AuthenticatedAsync("expiring", """{"identity":"","identity_url":"","permission_count":1}""");
        Frame frame = default;
        await Wait.UntilAsync(async () =>
        {
            await conn.PublishAsync(topic, "until the refresh fails");
            frame = await conn.ReadFrameAsync();
            return frame.Type == FrameType.Error;
        }, TimeSpan.FromSeconds(5), "a failed refresh after the ttl");
        Assert.Equal("E_AUTH_FAILED AUTH failed", frame.Text);
        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthenticatedClientsShowTheirIdentityInStats()
    {
        var topic = Names.Unique("authstats");
        await using var conn = await AuthenticatedAsync("all", """{"identity":"alice","identity_url":"https://id.example/alice","permission_count":1}""");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await Nsqd.WaitForChannelAsync(topic, "ch", "client_count", 1);
        var client = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.True(client.GetProperty("authed").GetBoolean());
        Assert.Equal("alice", client.GetProperty("auth_identity").GetString());
        Assert.Equal("https://id.example/alice", client.GetProperty("auth_identity_url").GetString());
    }
}

/// <summary>AUTH over TLS with a client certificate: tls=true and the certificate's common name reach the auth server.</summary>
public sealed class AuthOverTlsTests(AuthOverTlsNsqdFixture fixture) : IClassFixture<AuthOverTlsNsqdFixture>
{
    [Fact(Timeout = 30_000)]
    public async Task AuthServerGetsTlsStateAndCommonNameByPost()
    {
        var auth = fixture.Auth;
        auth.Reply("tls-secret", """{"ttl":60,"identity":"cert-user","authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish","subscribe"]}]}""");
        await using var conn = await fixture.Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["tls_v1"] = true });
        Assert.True(json.GetProperty("auth_required").GetBoolean());
        await conn.UpgradeTlsAsync(fixture.Certificates.Client);
        await conn.ExpectResponseAsync("OK");

        await conn.SendAsync("AUTH", "tls-secret"u8.ToArray());
        await conn.ExpectResponseAsync("""{"identity":"cert-user","identity_url":"","permission_count":1}""");
        var request = auth.Requests.Last(r => r.Secret == "tls-secret");
        Assert.Equal("POST", request.Method);
        Assert.Equal("/custom/auth", request.Path);
        Assert.Equal("true", request.Tls);
        Assert.Equal("nsq-test-client", request.CommonName);
        Assert.Equal("127.0.0.1", request.RemoteIp);

        await conn.PublishAsync(Names.Unique("authtls"), "authorized over tls");
        await conn.ExpectResponseAsync("OK");
    }
}
