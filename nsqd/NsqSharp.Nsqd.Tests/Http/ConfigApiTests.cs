using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>GET/PUT /config/:opt (http_test.go TestHTTPconfig, http.go doConfig/getOptByCfgName).</summary>
public sealed class ConfigApiTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Theory(Timeout = 30_000)]
    [InlineData("nsqlookupd_tcp_addresses", "[]")]
    [InlineData("max_msg_size", "1048576")]
    [InlineData("max_body_size", "5242880")]
    [InlineData("max_rdy_count", "2500")]
    [InlineData("msg_timeout", "60000000000")]
    [InlineData("max_msg_timeout", "900000000000")]
    [InlineData("max_req_timeout", "3600000000000")]
    [InlineData("max_heartbeat_interval", "60000000000")]
    [InlineData("output_buffer_timeout", "250000000")]
    [InlineData("max_output_buffer_size", "65536")]
    [InlineData("max_deflate_level", "6")]
    [InlineData("snappy", "true")]
    [InlineData("deflate", "true")]
    [InlineData("broadcast_address", "\"127.0.0.1\"")]
    [InlineData("tls_required", "0")]
    [InlineData("tls_min_version", "769")]
    [InlineData("id", "0")]
    [InlineData("e2e_processing_latency_percentiles", "[]")]
    [InlineData("auth_http_addresses", "[]")]
    public async Task OptionsAreReadByTheirConfigNames(string option, string json)
    {
        var reply = await Nsqd.GetAsync("/config/" + option);
        Assert.Equal(200, reply.Status);
        Assert.Equal(json, reply.Body);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
    }

    [Fact(Timeout = 30_000)]
    public async Task AddressOptionsReflectTheFlags()
    {
        Assert.Equal($"\"127.0.0.1:{Nsqd.TcpPort}\"", (await Nsqd.GetAsync("/config/tcp_address")).Body);
        Assert.Equal($"\"127.0.0.1:{Nsqd.HttpPort}\"", (await Nsqd.GetAsync("/config/http_address")).Body);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("bogus")]
    [InlineData("max-msg-size")]
    [InlineData("MAX_MSG_SIZE")]
    public async Task UnknownOptionsAreInvalid(string option)
    {
        var reply = await Nsqd.GetAsync("/config/" + option);
        Assert.Equal(400, reply.Status);
        Assert.Equal("{\"message\":\"INVALID_OPTION\"}", reply.Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task LogLevelCanBeChangedAtRunTime()
    {
        Assert.Equal("2", (await Nsqd.GetAsync("/config/log_level")).Body); // upstream's lg.INFO
        var put = await Nsqd.SendAsync(HttpMethod.Put, "/config/log_level", "warn"u8.ToArray());
        Assert.Equal(200, put.Status);
        Assert.Equal("3", put.Body);
        Assert.Equal("3", (await Nsqd.GetAsync("/config/log_level")).Body);

        var bad = await Nsqd.SendAsync(HttpMethod.Put, "/config/log_level", "bad"u8.ToArray());
        Assert.Equal(400, bad.Status);
        Assert.Equal("INVALID_VALUE", bad.Message);

        var empty = await Nsqd.SendAsync(HttpMethod.Put, "/config/log_level", []);
        Assert.Equal(413, empty.Status);
        Assert.Equal("INVALID_VALUE", empty.Message);

        Assert.Equal(200, (await Nsqd.SendAsync(HttpMethod.Put, "/config/log_level", "info"u8.ToArray())).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task OnlyLookupdAddressesAndLogLevelAreWritable()
    {
        var reply = await Nsqd.SendAsync(HttpMethod.Put, "/config/max_msg_size", "10"u8.ToArray());
        Assert.Equal(400, reply.Status);
        Assert.Equal("INVALID_OPTION", reply.Message);
        Assert.Equal("1048576", (await Nsqd.GetAsync("/config/max_msg_size")).Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task LookupdAddressesCanBeReplaced()
    {
        // upstream TestHTTPconfig: the reply echoes the new list
        var invalid = await Nsqd.SendAsync(HttpMethod.Put, "/config/nsqlookupd_tcp_addresses", "not json"u8.ToArray());
        Assert.Equal(400, invalid.Status);
        Assert.Equal("INVALID_VALUE", invalid.Message);

        var addresses = $"[\"127.0.0.1:{NsqSharp.Testing.FreePort.Next()}\",\"127.0.0.1:{NsqSharp.Testing.FreePort.Next()}\"]";
        var put = await Nsqd.SendAsync(HttpMethod.Put, "/config/nsqlookupd_tcp_addresses", Encoding.UTF8.GetBytes(addresses));
        Assert.Equal(200, put.Status);
        Assert.Equal(addresses, put.Body);
        Assert.Equal(addresses, (await Nsqd.GetAsync("/config/nsqlookupd_tcp_addresses")).Body);

        var cleared = await Nsqd.SendAsync(HttpMethod.Put, "/config/nsqlookupd_tcp_addresses", "[]"u8.ToArray());
        Assert.Equal("[]", cleared.Body);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("POST")]
    [InlineData("DELETE")]
    public async Task OtherMethodsAre405(string method)
    {
        var reply = await Nsqd.SendAsync(new HttpMethod(method), "/config/log_level", method == "POST" ? [] : null);
        Assert.Equal(405, reply.Status);
        Assert.Equal("{\"message\":\"METHOD_NOT_ALLOWED\"}", reply.Body);
    }

    [Fact(Timeout = 30_000)]
    public async Task ConfigWithoutAnOptionNameIsNotFound()
    {
        Assert.Equal(404, (await Nsqd.GetAsync("/config/")).Status);
        Assert.Equal(404, (await Nsqd.GetAsync("/config")).Status);
        Assert.Equal(404, (await Nsqd.GetAsync("/config/max_msg_size/extra")).Status);
    }
}
