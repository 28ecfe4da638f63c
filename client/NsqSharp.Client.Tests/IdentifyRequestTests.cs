namespace NsqSharp.Client.Tests;

public class IdentifyRequestTests
{
    [Fact]
    public void Identify_request_uses_go_nsq_field_names_and_units()
    {
        var config = new NsqConfig { ClientId = "c1", Hostname = "h1", HeartbeatInterval = TimeSpan.FromSeconds(5), MsgTimeout = TimeSpan.FromSeconds(90), SampleRate = 10, Snappy = true };
        var json = System.Text.Json.JsonDocument.Parse(Protocol.IdentifyRequest.Build(config)).RootElement;
        Assert.Equal("c1", json.GetProperty("client_id").GetString());
        Assert.Equal("h1", json.GetProperty("hostname").GetString());
        Assert.True(json.GetProperty("feature_negotiation").GetBoolean());
        Assert.Equal(5000, json.GetProperty("heartbeat_interval").GetInt64());
        Assert.Equal(90000, json.GetProperty("msg_timeout").GetInt64());
        Assert.Equal(250, json.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(16384, json.GetProperty("output_buffer_size").GetInt64());
        Assert.Equal(10, json.GetProperty("sample_rate").GetInt32());
        Assert.True(json.GetProperty("snappy").GetBoolean());
        Assert.Equal(6, json.GetProperty("deflate_level").GetInt32());

        config.HeartbeatInterval = TimeSpan.FromMilliseconds(-1);
        config.OutputBufferTimeout = TimeSpan.FromMilliseconds(-1);
        config.OutputBufferSize = -1;
        json = System.Text.Json.JsonDocument.Parse(Protocol.IdentifyRequest.Build(config)).RootElement;
        Assert.Equal(-1, json.GetProperty("heartbeat_interval").GetInt64());
        Assert.Equal(-1, json.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(-1, json.GetProperty("output_buffer_size").GetInt64());
    }
}
