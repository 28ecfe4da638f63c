using NsqSharp.Client.Tests.Fakes;

namespace NsqSharp.Client.Tests;

/// <summary>IDENTIFY feature negotiation: compression, TLS, AUTH, settings - each verified end to end.</summary>
public class NegotiationTests
{
    private static readonly TimeSpan Wait = TestTimeouts.Default;

    private static async Task<FakeClient> PublishRoundTripAsync(FakeNsqd server, NsqConfig config, string body = "payload")
    {
        await using var producer = new Producer(server.Address, config);
        var publish = producer.PublishAsync("t", body).AsTask();
        var client = await server.AcceptReadyAsync();
        var pub = await client.ExpectAsync("PUB");
        Assert.Equal(body, pub.BodyText);
        await client.SendResponseAsync("OK");
        await publish.WaitAsync(Wait);
        return client;
    }

    [Fact]
    public async Task Snappy_compresses_both_directions()
    {
        await using var server = new FakeNsqd();
        var client = await PublishRoundTripAsync(server, new NsqConfig { Snappy = true }, new string('x', 5000));
        Assert.True(client.Snappy);
    }

    [Fact]
    public async Task Deflate_uses_the_level_nsqd_granted()
    {
        await using var server = new FakeNsqd();
        var client = await PublishRoundTripAsync(server, new NsqConfig { Deflate = true, DeflateLevel = 9 }, new string('y', 5000));
        Assert.True(client.Deflate);
        Assert.Equal(9, client.Identify.GetProperty("deflate_level").GetInt32());
    }

    [Fact]
    public async Task Consumer_receives_messages_through_snappy()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { Snappy = true });
        await using var server = new FakeNsqd();
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((m, _) =>
        {
            got.TrySetResult(m.GetBodyAsString());
            return Task.CompletedTask;
        });
        var connect = consumer.ConnectToNsqdAsync(server.Address);
        var client = await server.AcceptReadyAsync(subscribe: true);
        await connect.WaitAsync(Wait);
        await client.ExpectAsync("RDY");
        await client.SendMessageAsync("0000000000000001", 1, "compressed hello");
        Assert.Equal("compressed hello", await got.Task.WaitAsync(Wait));
        await client.ExpectAsync("FIN");
    }

    [Fact]
    public async Task Tls_verifies_the_server_against_the_root_ca_file()
    {
        using var certs = new TestCertificates();
        await using var server = new FakeNsqd(new FakeServerOptions { TlsCertificate = certs.Server });
        var config = new NsqConfig().Set("tls_v1", "true").Set("tls_root_ca_file", certs.CaFile).Set("tls_min_version", "tls1.2");
        var client = await PublishRoundTripAsync(server, config);
        Assert.True(client.Tls);
    }

    [Fact]
    public async Task Tls_with_client_certificate_and_snappy_on_top()
    {
        using var certs = new TestCertificates();
        await using var server = new FakeNsqd(new FakeServerOptions { TlsCertificate = certs.Server, RequireClientCertificate = true });
        var config = new NsqConfig
        {
            TlsV1 = true,
            TlsRootCaFile = certs.CaFile,
            TlsCert = certs.ClientCertFile,
            TlsKey = certs.ClientKeyFile,
            Snappy = true,
        };
        var client = await PublishRoundTripAsync(server, config);
        Assert.True(client.Tls);
        Assert.True(client.Snappy);
    }

    [Fact]
    public async Task Tls_rejects_a_server_not_signed_by_the_configured_ca()
    {
        using var certs = new TestCertificates();
        await using var server = new FakeNsqd(new FakeServerOptions { TlsCertificate = certs.Server });
        await using var producer = new Producer(server.Address, new NsqConfig { TlsV1 = true, TlsRootCaFile = certs.OtherCaFile });
        var connect = producer.ConnectAsync();
        var client = await server.AcceptAsync();
        _ = client.HandshakeAsync().ContinueWith(t => t.Exception, TaskScheduler.Default);
        await Assert.ThrowsAsync<NsqNegotiationException>(() => connect.WaitAsync(Wait));
    }

    [Fact]
    public async Task Tls_insecure_skip_verify_accepts_any_certificate()
    {
        using var certs = new TestCertificates();
        await using var server = new FakeNsqd(new FakeServerOptions { TlsCertificate = certs.Server });
        var client = await PublishRoundTripAsync(server, new NsqConfig { TlsV1 = true, TlsInsecureSkipVerify = true });
        Assert.True(client.Tls);
    }

    [Fact]
    public async Task Tls_requested_but_not_offered_fails_closed()
    {
        await using var server = new FakeNsqd();
        await using var producer = new Producer(server.Address, new NsqConfig { TlsV1 = true });
        var connect = producer.ConnectAsync();
        var client = await server.AcceptAsync();
        await client.HandshakeAsync();
        var error = await Assert.ThrowsAsync<NsqNegotiationException>(() => connect.WaitAsync(Wait));
        Assert.Contains("tls_v1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_sends_the_secret_when_nsqd_requires_it()
    {
        await using var server = new FakeNsqd(new FakeServerOptions { AuthRequired = true });
        var client = await PublishRoundTripAsync(server, new NsqConfig { AuthSecret = "open-sesame" });
        Assert.Equal("open-sesame", client.AuthSecret);
    }

    [Fact]
    public async Task Auth_required_without_secret_or_with_a_bad_one_fails()
    {
        await using var server = new FakeNsqd(new FakeServerOptions { AuthRequired = true });
        await using (var producer = new Producer(server.Address))
        {
            var connect = producer.ConnectAsync();
            var client = await server.AcceptAsync();
            _ = client.HandshakeAsync().ContinueWith(t => t.Exception, TaskScheduler.Default);
            await Assert.ThrowsAsync<NsqNegotiationException>(() => connect.WaitAsync(Wait));
        }

        await using (var producer = new Producer(server.Address, new NsqConfig { AuthSecret = "bad-secret" }))
        {
            var connect = producer.ConnectAsync();
            var client = await server.AcceptAsync();
            await client.HandshakeAsync();
            Assert.Equal("E_AUTH_FAILED", (await Assert.ThrowsAsync<NsqServerException>(() => connect.WaitAsync(Wait))).Code);
        }
    }

    [Fact]
    public async Task Old_nsqd_answering_plain_OK_is_supported()
    {
        await using var server = new FakeNsqd(new FakeServerOptions { LegacyIdentify = true });
        await using var producer = new Producer(server.Address);
        var connect = producer.ConnectAsync();
        await server.AcceptReadyAsync();
        await connect.WaitAsync(Wait);
        Assert.False(producer.ServerInfo!.FeatureNegotiation);
        Assert.Equal(2500, producer.ServerInfo.MaxRdyCount);
    }

    [Fact]
    public async Task Client_settings_are_sent_in_identify()
    {
        await using var server = new FakeNsqd();
        var config = new NsqConfig()
            .Set("sample_rate", "25").Set("msg_timeout", "2m").Set("output_buffer_size", "32768")
            .Set("output_buffer_timeout", "100ms").Set("heartbeat_interval", "5s").Set("user_agent", "test/1.0");
        var client = await PublishRoundTripAsync(server, config);
        Assert.Equal(25, client.Identify.GetProperty("sample_rate").GetInt32());
        Assert.Equal(120000, client.Identify.GetProperty("msg_timeout").GetInt64());
        Assert.Equal(32768, client.Identify.GetProperty("output_buffer_size").GetInt64());
        Assert.Equal(100, client.Identify.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(5000, client.Identify.GetProperty("heartbeat_interval").GetInt64());
        Assert.Equal("test/1.0", client.Identify.GetProperty("user_agent").GetString());
    }

    [Fact]
    public async Task Max_rdy_count_from_identify_caps_rdy()
    {
        await using var consumer = new Consumer("t", "c", new NsqConfig { MaxInFlight = 100 });
        await using var server = new FakeNsqd(new FakeServerOptions { MaxRdyCount = 10 });
        var connect = consumer.ConnectToNsqdAsync(server.Address);
        var client = await server.AcceptReadyAsync(subscribe: true);
        await connect.WaitAsync(Wait);
        Assert.Equal(["10"], (await client.ExpectAsync("RDY")).Args);
    }
}
