using System.Security.Cryptography.X509Certificates;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>TLS upgrade over IDENTIFY, alone and with snappy/deflate (TestTLS, TestTLSSnappy, TestTLSDeflate), and HTTPS.</summary>
public sealed class TlsTests(TlsNsqdFixture fixture) : IClassFixture<TlsNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private static Dictionary<string, object?> Fields(params (string Key, object? Value)[] fields) => fields.ToDictionary(f => f.Key, f => f.Value);

    [Fact(Timeout = 30_000)]
    public async Task TlsUpgradeThenOkThenNormalTraffic()
    {
        var topic = Names.Unique("tls");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("tls_v1", true)));
        Assert.True(json.GetProperty("tls_v1").GetBoolean());
        await conn.UpgradeTlsAsync();
        await conn.ExpectResponseAsync("OK");
        Assert.Equal(fixture.Certificates.Server.Thumbprint, new X509Certificate2(conn.Tls!.RemoteCertificate!).Thumbprint);

        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        await conn.PublishAsync(topic, "secret message");
        Assert.Equal("secret message", (await conn.ExpectResponseAndMessageAsync()).BodyText);

        await Nsqd.WaitForChannelAsync(topic, "ch", "client_count", 1);
        var client = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.True(client.GetProperty("tls").GetBoolean());
        Assert.StartsWith("TLS1.", client.GetProperty("tls_version").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(client.GetProperty("tls_cipher_suite").GetString()));
    }

    [Fact(Timeout = 30_000)]
    public async Task TlsIsOnlyUsedWhenAsked()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync();
        Assert.False(json.GetProperty("tls_v1").GetBoolean());
        await conn.PublishAsync(Names.Unique("plain"), "x");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task TlsWithSnappy()
    {
        var topic = Names.Unique("tlssnappy");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("tls_v1", true), ("snappy", true)));
        Assert.True(json.GetProperty("tls_v1").GetBoolean());
        Assert.True(json.GetProperty("snappy").GetBoolean());
        await conn.UpgradeTlsAsync();
        await conn.ExpectResponseAsync("OK");
        conn.UpgradeSnappy();
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        var body = new byte[50_000];
        await conn.SendAsync("PUB " + topic, body);
        Assert.Equal(body, (await conn.ExpectResponseAndMessageAsync()).Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task TlsWithDeflate()
    {
        var topic = Names.Unique("tlsdeflate");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("tls_v1", true), ("deflate", true)));
        Assert.True(json.GetProperty("tls_v1").GetBoolean());
        Assert.True(json.GetProperty("deflate").GetBoolean());
        await conn.UpgradeTlsAsync();
        await conn.ExpectResponseAsync("OK");
        conn.UpgradeDeflate(json.GetProperty("deflate_level").GetInt32());
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        await conn.PublishAsync(topic, "deflated over tls");
        Assert.Equal("deflated over tls", (await conn.ExpectResponseAndMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task HttpsServesTheApiWithTheSameCertificate()
    {
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var https = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await https.GetAsync(Nsqd.HttpsBase + "/ping");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("OK", await response.Content.ReadAsStringAsync());

        var topic = Names.Unique("httpspub");
        using var content = new ByteArrayContent("over https"u8.ToArray());
        using var pub = await https.PostAsync($"{Nsqd.HttpsBase}/pub?topic={topic}", content);
        Assert.Equal("OK", await pub.Content.ReadAsStringAsync());
        Assert.Equal(1, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("message_count").GetInt64());

        // plain HTTP keeps working when TLS is not required
        Assert.Equal(200, (await Nsqd.GetAsync("/ping")).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task PlainBytesInsteadOfAHandshakeFailTheConnection()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.NegotiateAsync(Fields(("tls_v1", true)));
        await conn.WriteAsync("NOP\nNOP\n"u8.ToArray());
        await conn.ExpectClosedAsync();
        Assert.Equal(200, (await Nsqd.GetAsync("/ping")).Status);
    }
}

/// <summary>--tls-required=true: every TCP command but IDENTIFY needs TLS first; plain HTTP gets 403.</summary>
public sealed class TlsRequiredTests(TlsRequiredNsqdFixture fixture) : IClassFixture<TlsRequiredNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Theory(Timeout = 30_000)]
    [InlineData("SUB t ch", "SUB")]
    [InlineData("RDY 1", "RDY")]
    [InlineData("NOP", "NOP")]
    [InlineData("CLS", "CLS")]
    [InlineData("AUTH", "AUTH")]
    public async Task CommandsWithoutTlsAreFatal(string line, string command)
    {
        // upstream TestTLSRequired (subFail) and enforceTLSPolicy
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync($"E_INVALID cannot {command} in current state (TLS required)");
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishWithoutTlsIsFatal()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.PublishAsync(Names.Unique("notls"), "x");
        await conn.ExpectFatalAsync("E_INVALID cannot PUB in current state (TLS required)");
    }

    [Fact(Timeout = 30_000)]
    public async Task IdentifyWithoutTlsStaysAllowedButNothingElse()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(featureNegotiation: false);
        Assert.Equal("OK", frame.Text);
        await conn.SendAsync($"SUB {Names.Unique("t")} ch");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB in current state (TLS required)");
    }

    [Fact(Timeout = 30_000)]
    public async Task AfterTheUpgradeEverythingWorks()
    {
        var topic = Names.Unique("tlsreq");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["tls_v1"] = true });
        Assert.True(json.GetProperty("tls_v1").GetBoolean());
        await conn.UpgradeTlsAsync();
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");
        await conn.PublishAsync(topic, "required tls");
        Assert.Equal("required tls", (await conn.ExpectResponseAndMessageAsync()).BodyText);
    }

    [Fact(Timeout = 30_000)]
    public async Task PlainHttpIsRefusedWithTheHttpsPort()
    {
        var reply = await Nsqd.GetAsync("/stats?format=json");
        Assert.Equal(403, reply.Status);
        Assert.Equal("TLS_REQUIRED", reply.Message);
        Assert.Equal(Nsqd.HttpsPort, reply.Json.GetProperty("https_port").GetInt32());
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);

        var ping = await Nsqd.PostAsync("/pub?topic=x", "y");
        Assert.Equal(403, ping.Status);

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var https = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await https.GetAsync(Nsqd.HttpsBase + "/ping");
        Assert.Equal(200, (int)response.StatusCode);
    }
}

/// <summary>--tls-required=tcp-https: TCP must upgrade, plain HTTP is still served (TestTLSRequireVerifyExceptHTTP).</summary>
public sealed class TlsRequiredExceptHttpTests(TlsRequiredExceptHttpNsqdFixture fixture) : IClassFixture<TlsRequiredExceptHttpNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task TcpNeedsTlsButHttpDoesNot()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync($"SUB {Names.Unique("t")} ch");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB in current state (TLS required)");

        var topic = Names.Unique("httpok");
        await Nsqd.PublishAsync(topic, "plain http");
        Assert.Equal(1, (await Nsqd.TopicStatsAsync(topic))!.Value.GetProperty("message_count").GetInt64());
    }
}

/// <summary>--tls-client-auth-policy=require-verify (TestTLSAuthRequireVerify, TestHTTPSRequireVerify).</summary>
public sealed class TlsClientVerifyTests(TlsClientVerifyNsqdFixture fixture) : IClassFixture<TlsClientVerifyNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private async Task<RawConnection> NegotiateTlsAsync()
    {
        var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["tls_v1"] = true });
        Assert.True(json.GetProperty("tls_v1").GetBoolean());
        return conn;
    }

    /// <summary>Either the handshake fails or (TLS 1.3, where the client finishes first) the next read does.</summary>
    private static async Task ExpectRejectedAsync(RawConnection conn, X509Certificate2? certificate)
    {
        try
        {
            await conn.UpgradeTlsAsync(certificate);
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            return;
        }

        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task NoClientCertificateIsRejected()
    {
        await using var conn = await NegotiateTlsAsync();
        await ExpectRejectedAsync(conn, null);
    }

    [Fact(Timeout = 30_000)]
    public async Task UntrustedClientCertificateIsRejected()
    {
        await using var conn = await NegotiateTlsAsync();
        await ExpectRejectedAsync(conn, fixture.Certificates.Rogue);
    }

    [Fact(Timeout = 30_000)]
    public async Task ClientCertificateSignedByTheRootCaIsAccepted()
    {
        var topic = Names.Unique("mtls");
        await using var conn = await NegotiateTlsAsync();
        await conn.UpgradeTlsAsync(fixture.Certificates.Client);
        await conn.ExpectResponseAsync("OK");
        await conn.PublishAsync(topic, "mutual");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task PlainHttpIsRefused()
    {
        var reply = await Nsqd.GetAsync("/ping");
        Assert.Equal(403, reply.Status);
        Assert.Equal("TLS_REQUIRED", reply.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task HttpsRequiresAVerifiedClientCertificate()
    {
        async Task<bool> PublishesAsync(X509Certificate2? certificate)
        {
            using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
            if (certificate != null)
            {
                handler.ClientCertificateOptions = ClientCertificateOption.Manual;
                handler.ClientCertificates.Add(certificate);
            }

            using var https = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
            try
            {
                using var content = new ByteArrayContent("m"u8.ToArray());
                using var response = await https.PostAsync($"{Nsqd.HttpsBase}/pub?topic={Names.Unique("https")}", content);
                return response.IsSuccessStatusCode && await response.Content.ReadAsStringAsync() == "OK";
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }

        Assert.False(await PublishesAsync(null), "HTTPS without a client certificate must be refused");
        Assert.False(await PublishesAsync(fixture.Certificates.Rogue), "HTTPS with an untrusted client certificate must be refused");
        Assert.True(await PublishesAsync(fixture.Certificates.Client), "HTTPS with a CA-signed client certificate must work");
    }
}

/// <summary>--tls-client-auth-policy=require: a client certificate is needed but not verified (TestTLSAuthRequire).</summary>
public sealed class TlsClientRequireTests(TlsClientRequireNsqdFixture fixture) : IClassFixture<TlsClientRequireNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task AnyClientCertificateIsAcceptedNoneIsNot()
    {
        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.NegotiateAsync(new Dictionary<string, object?> { ["tls_v1"] = true });
            try
            {
                await conn.UpgradeTlsAsync();
                await conn.ExpectClosedAsync();
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
            {
            }
        }

        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.NegotiateAsync(new Dictionary<string, object?> { ["tls_v1"] = true });
            await conn.UpgradeTlsAsync(fixture.Certificates.Rogue);
            await conn.ExpectResponseAsync("OK");
            Assert.NotNull(conn.Tls!.RemoteCertificate);
            Assert.True(conn.Tls.IsMutuallyAuthenticated);
        }
    }
}
