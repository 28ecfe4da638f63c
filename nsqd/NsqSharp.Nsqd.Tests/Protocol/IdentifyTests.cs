using System.Text;
using System.Text.Json;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// IDENTIFY: every field, the feature-negotiation reply, validation errors with upstream's exact
/// texts (client_v2.go SetHeartbeatInterval/SetOutputBuffer/SetSampleRate/SetMsgTimeout,
/// protocol_v2_test.go TestMaxHeartbeatInterval*, TestOutputBufferingValidity, TestSnappy, TestDeflate).
/// </summary>
public sealed class IdentifyTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private static Dictionary<string, object?> Fields(params (string Key, object? Value)[] fields)
    {
        var d = new Dictionary<string, object?>();
        foreach (var (k, v) in fields)
        {
            d[k] = v;
        }

        return d;
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutFeatureNegotiationTheReplyIsOk()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(Fields(("client_id", "x")), featureNegotiation: false);
        Assert.Equal(FrameType.Response, frame.Type);
        Assert.Equal("OK", frame.Text);
    }

    [Fact(Timeout = 30_000)]
    public async Task FeatureNegotiationRepliesWithUpstreamsFieldsAndDefaults()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync();
        Assert.Equal(2500, json.GetProperty("max_rdy_count").GetInt64());
        Assert.Equal("1.3.0", json.GetProperty("version").GetString());
        Assert.Equal(900_000, json.GetProperty("max_msg_timeout").GetInt64());
        Assert.Equal(60_000, json.GetProperty("msg_timeout").GetInt64());
        Assert.False(json.GetProperty("tls_v1").GetBoolean());
        Assert.False(json.GetProperty("deflate").GetBoolean());
        Assert.Equal(6, json.GetProperty("deflate_level").GetInt32());
        Assert.Equal(6, json.GetProperty("max_deflate_level").GetInt32());
        Assert.False(json.GetProperty("snappy").GetBoolean());
        Assert.Equal(0, json.GetProperty("sample_rate").GetInt32());
        Assert.False(json.GetProperty("auth_required").GetBoolean());
        Assert.Equal(16384, json.GetProperty("output_buffer_size").GetInt32());
        Assert.Equal(250, json.GetProperty("output_buffer_timeout").GetInt64());

        // no upgrade was negotiated, so the connection simply goes on
        await conn.SendAsync("NOP");
        await conn.PublishAsync(Names.Unique("negotiated"), "x");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task NegotiatedValuesAreEchoed()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(
            ("msg_timeout", 5000), ("output_buffer_size", 1024), ("output_buffer_timeout", 100), ("sample_rate", 42), ("heartbeat_interval", 2000)));
        Assert.Equal(5000, json.GetProperty("msg_timeout").GetInt64());
        Assert.Equal(1024, json.GetProperty("output_buffer_size").GetInt32());
        Assert.Equal(100, json.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(42, json.GetProperty("sample_rate").GetInt32());
    }

    [Fact(Timeout = 30_000)]
    public async Task OutputBufferSizeMinusOneMeansUnbuffered()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("output_buffer_size", -1), ("output_buffer_timeout", 500)));
        Assert.Equal(1, json.GetProperty("output_buffer_size").GetInt32());
        Assert.Equal(0, json.GetProperty("output_buffer_timeout").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task OutputBufferTimeoutMinusOneDisablesTheTimeout()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("output_buffer_timeout", -1)));
        Assert.Equal(0, json.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(16384, json.GetProperty("output_buffer_size").GetInt32());
    }

    [Theory(Timeout = 30_000)]
    [InlineData("heartbeat_interval", 999, "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid")]
    [InlineData("heartbeat_interval", 60_001, "E_BAD_BODY IDENTIFY heartbeat interval (60001) is invalid")]
    [InlineData("heartbeat_interval", -2, "E_BAD_BODY IDENTIFY heartbeat interval (-2) is invalid")]
    [InlineData("output_buffer_size", 63, "E_BAD_BODY IDENTIFY output buffer size (63) is invalid")]
    [InlineData("output_buffer_size", 65_537, "E_BAD_BODY IDENTIFY output buffer size (65537) is invalid")]
    [InlineData("output_buffer_size", -2, "E_BAD_BODY IDENTIFY output buffer size (-2) is invalid")]
    [InlineData("output_buffer_timeout", 24, "E_BAD_BODY IDENTIFY output buffer timeout (24) is invalid")]
    [InlineData("output_buffer_timeout", 30_001, "E_BAD_BODY IDENTIFY output buffer timeout (30001) is invalid")]
    [InlineData("output_buffer_timeout", -2, "E_BAD_BODY IDENTIFY output buffer timeout (-2) is invalid")]
    [InlineData("sample_rate", 100, "E_BAD_BODY IDENTIFY sample rate (100) is invalid")]
    [InlineData("sample_rate", -1, "E_BAD_BODY IDENTIFY sample rate (-1) is invalid")]
    [InlineData("msg_timeout", 999, "E_BAD_BODY IDENTIFY msg timeout (999) is invalid")]
    [InlineData("msg_timeout", 900_001, "E_BAD_BODY IDENTIFY msg timeout (900001) is invalid")]
    [InlineData("msg_timeout", -1, "E_BAD_BODY IDENTIFY msg timeout (-1) is invalid")]
    public async Task OutOfRangeValuesAreFatalBadBody(string field, int value, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(Fields((field, value)));
        Assert.Equal(FrameType.Error, frame.Type);
        Assert.Equal(error, frame.Text);
        await conn.ExpectClosedAsync();
    }

    [Theory(Timeout = 30_000)]
    [InlineData("heartbeat_interval", 1000)]
    [InlineData("heartbeat_interval", 60_000)]
    [InlineData("heartbeat_interval", -1)]
    [InlineData("output_buffer_size", 64)]
    [InlineData("output_buffer_size", 65_536)]
    [InlineData("output_buffer_timeout", 25)]
    [InlineData("output_buffer_timeout", 30_000)]
    [InlineData("sample_rate", 0)]
    [InlineData("sample_rate", 99)]
    [InlineData("msg_timeout", 1000)]
    [InlineData("msg_timeout", 900_000)]
    public async Task RangeBoundariesAreAccepted(string field, int value)
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields((field, value)));
        Assert.Equal("1.3.0", json.GetProperty("version").GetString());
    }

    [Theory(Timeout = 30_000)]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("{\"heartbeat_interval\":\"soon\"}")]
    [InlineData("{\"feature_negotiation\":\"yes\"}")]
    [InlineData("{\"sample_rate\":1.5}")]
    public async Task UndecodableJsonIsFatalBadBody(string body)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes(body));
        await conn.ExpectFatalAsync("E_BAD_BODY IDENTIFY failed to decode JSON body");
    }

    [Fact(Timeout = 30_000)]
    public async Task JsonNullIsAnEmptyIdentify()
    {
        // Go's json.Unmarshal of "null" into a struct is a no-op, so upstream answers OK.
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("IDENTIFY", "null"u8.ToArray());
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task FieldNamesMatchCaseInsensitivelyAsInGo()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("IDENTIFY", "{\"Feature_Negotiation\":true,\"MSG_TIMEOUT\":7000}"u8.ToArray());
        var frame = await conn.ReadFrameAsync();
        Assert.Equal(FrameType.Response, frame.Type);
        Assert.Equal(7000, JsonDocument.Parse(frame.Data).RootElement.GetProperty("msg_timeout").GetInt64());
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, "E_BAD_BODY IDENTIFY invalid body size 0")]
    [InlineData(-5, "E_BAD_BODY IDENTIFY invalid body size -5")]
    [InlineData(int.MaxValue, "E_BAD_BODY IDENTIFY body too big 2147483647 > 5242880")]
    public async Task BadBodySizesAreFatal(int size, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. "IDENTIFY\n"u8.ToArray(), .. RawConnection.Int32(size)]);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task UnknownAndDeprecatedFieldsAreIgnored()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("short_id", "test"), ("long_id", "test"), ("future_field", new[] { 1, 2 }), ("nested", Fields(("a", 1)))));
        Assert.Equal(2500, json.GetProperty("max_rdy_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task IdentifyMayBeRepeatedBeforeSubscribing()
    {
        // upstream TestOutputBufferingValidity identifies several times on one connection
        await using var conn = await Nsqd.ConnectAsync();
        var first = await conn.NegotiateAsync(Fields(("output_buffer_size", 4096), ("output_buffer_timeout", 1000)));
        Assert.Equal(4096, first.GetProperty("output_buffer_size").GetInt32());
        var second = await conn.NegotiateAsync(Fields(("output_buffer_size", -1), ("output_buffer_timeout", -1)));
        Assert.Equal(1, second.GetProperty("output_buffer_size").GetInt32());
        var third = await conn.NegotiateAsync(Fields(("output_buffer_size", 0), ("output_buffer_timeout", 0)));
        Assert.Equal(1, third.GetProperty("output_buffer_size").GetInt32());
        var error = await conn.IdentifyAsync(Fields(("output_buffer_size", 65_537)));
        Assert.Equal("E_BAD_BODY IDENTIFY output buffer size (65537) is invalid", error.Text);
        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task IdentifyAfterSubscribeIsFatal()
    {
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("idsub"), "ch");
        await conn.SendAsync("IDENTIFY", "{}"u8.ToArray());
        await conn.ExpectFatalAsync("E_INVALID cannot IDENTIFY in current state");
    }

    [Fact(Timeout = 30_000)]
    public async Task IdentityFieldsShowUpInStats()
    {
        var topic = Names.Unique("idstats");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch",
            "{\"client_id\":\"my-client\",\"hostname\":\"my-host.example\",\"user_agent\":\"conformance/1.0\",\"sample_rate\":17}");
        await conn.SendAsync("RDY 7");
        await Nsqd.WaitForChannelAsync(topic, "ch", "client_count", 1);
        JsonElement client = default;
        await Wait.UntilAsync(async () =>
        {
            var ch = await Nsqd.ChannelStatsAsync(topic, "ch");
            client = ch!.Value.GetProperty("clients")[0];
            return client.GetProperty("ready_count").GetInt64() == 7;
        }, TimeSpan.FromSeconds(5), "RDY 7 in stats");
        Assert.Equal("my-client", client.GetProperty("client_id").GetString());
        Assert.Equal("my-host.example", client.GetProperty("hostname").GetString());
        Assert.Equal("conformance/1.0", client.GetProperty("user_agent").GetString());
        Assert.Equal(17, client.GetProperty("sample_rate").GetInt32());
        Assert.Equal("V2", client.GetProperty("version").GetString());
        Assert.Equal(3, client.GetProperty("state").GetInt32());
        Assert.Equal(conn.LocalEndPoint.ToString(), client.GetProperty("remote_address").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutIdentityFieldsTheRemoteAddressIsUsed()
    {
        var topic = Names.Unique("idanon");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await Nsqd.WaitForChannelAsync(topic, "ch", "client_count", 1);
        var client = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.Equal("127.0.0.1", client.GetProperty("client_id").GetString());
        Assert.Equal("127.0.0.1", client.GetProperty("hostname").GetString());
        Assert.Equal("", client.GetProperty("user_agent").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task SnappyAndDeflateTogetherAreRefused()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(Fields(("snappy", true), ("deflate", true)));
        Assert.Equal(FrameType.Error, frame.Type);
        Assert.Equal("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression", frame.Text);
        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task TlsRequestedWithoutACertificateStaysPlain()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("tls_v1", true)));
        Assert.False(json.GetProperty("tls_v1").GetBoolean());
        await conn.PublishAsync(Names.Unique("notls"), "plain");
        await conn.ExpectResponseAsync("OK");
    }

    [Theory(Timeout = 30_000)]
    [InlineData(0, 6)]
    [InlineData(1, 1)]
    [InlineData(6, 6)]
    [InlineData(9, 6)]
    public async Task DeflateLevelDefaultsToSixAndIsCappedByTheServerMaximum(int requested, int negotiated)
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("deflate", true), ("deflate_level", requested)));
        Assert.True(json.GetProperty("deflate").GetBoolean());
        Assert.Equal(negotiated, json.GetProperty("deflate_level").GetInt32());
        conn.UpgradeDeflate(negotiated);
        await conn.ExpectResponseAsync("OK");
        await conn.PublishAsync(Names.Unique("deflevel"), "compressed");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task SnappyRoundTripsLargeMessages()
    {
        // upstream TestSnappy: a 128000-byte message through a snappy-upgraded connection
        var topic = Names.Unique("snappy");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("snappy", true)));
        Assert.True(json.GetProperty("snappy").GetBoolean());
        Assert.False(json.GetProperty("deflate").GetBoolean());
        conn.UpgradeSnappy();
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 1");

        var body = new byte[128_000];
        new Random(7).NextBytes(body.AsSpan(0, 64_000)); // half random, half compressible
        await conn.SendAsync($"PUB {topic}", body);
        var msg = await conn.ExpectResponseAndMessageAsync();
        Assert.Equal(body, msg.Body);
        Assert.Equal(1, msg.Attempts);
        await conn.SendAsync("FIN " + msg.Id);
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);

        var stats = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.True(stats.GetProperty("snappy").GetBoolean());
        Assert.False(stats.GetProperty("deflate").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task DeflateRoundTripsMessagesBothWays()
    {
        var topic = Names.Unique("deflate");
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(Fields(("deflate", true), ("deflate_level", 1)));
        Assert.True(json.GetProperty("deflate").GetBoolean());
        conn.UpgradeDeflate(1);
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("RDY 10");
        var bodies = new List<byte[]>();
        for (var i = 0; i < 10; i++)
        {
            bodies.Add(Encoding.ASCII.GetBytes(new string((char)('a' + i), 5000 + i)));
        }

        await conn.MultiPublishAsync(topic, bodies);
        var received = 0;
        var ok = false;
        while (received < 10 || !ok)
        {
            // the MPUB's OK and the deliveries share this connection in no fixed order
            var frame = await conn.ReadFrameAsync();
            if (frame.Type == FrameType.Response)
            {
                Assert.Equal("OK", frame.Text);
                ok = true;
                continue;
            }

            var msg = NsqMessage.Decode(frame.Data);
            Assert.Equal(bodies[received++], msg.Body);
            await conn.SendAsync("FIN " + msg.Id);
        }

        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 0);
        var client = (await Nsqd.ChannelStatsAsync(topic, "ch"))!.Value.GetProperty("clients")[0];
        Assert.True(client.GetProperty("deflate").GetBoolean());
        Assert.Equal(10, client.GetProperty("finish_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task BytesSentBeforeTheUpgradeCompletesAreRefused()
    {
        // A client must not pipeline past the negotiation reply; the server cannot tell which
        // bytes were meant to be compressed.
        await using var conn = await Nsqd.ConnectAsync();
        var identify = RawConnection.Command("IDENTIFY", JsonSerializer.SerializeToUtf8Bytes(Fields(("feature_negotiation", true), ("snappy", true))));
        await conn.WriteAsync([.. identify, .. "NOP\n"u8.ToArray()]);
        var json = await conn.ReadFrameAsync();
        Assert.Equal(FrameType.Response, json.Type);
        try
        {
            var frame = await conn.ReadFrameAsync();
            Assert.Equal(FrameType.Error, frame.Type);
            Assert.StartsWith("E_IDENTIFY_FAILED ", frame.Text, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return; // closed straight away
        }

        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task AuthIsFatalWhenDisabled()
    {
        // no --auth-http-address on this nsqd
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        await conn.SendAsync("AUTH", "secret"u8.ToArray());
        await conn.ExpectFatalAsync("E_AUTH_DISABLED AUTH disabled");
    }
}
