using System.Buffers;
using System.Text;
using NsqSharp.Client.Protocol;

namespace NsqSharp.Client.Tests;

public class CommandWriterTests
{
    private static readonly NsqMessageId Id = NsqMessageId.FromBytes("0123456789abcdef"u8);

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static byte[] Size(int n) => [(byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n];

    [Fact]
    public void Magic_is_two_spaces_V2() => Assert.Equal("  V2"u8.ToArray(), Encode(CommandWriter.WriteMagic));

    [Fact]
    public void Pub_has_line_then_size_prefixed_body()
    {
        var bytes = Encode(w => CommandWriter.WritePub(w, "orders", "hello"u8));
        Assert.Equal(Concat("PUB orders\n"u8.ToArray(), Size(5), "hello"u8.ToArray()), bytes);
    }

    [Fact]
    public void Dpub_carries_defer_milliseconds()
    {
        var bytes = Encode(w => CommandWriter.WriteDpub(w, "t", 1500, "x"u8));
        Assert.Equal(Concat("DPUB t 1500\n"u8.ToArray(), Size(1), "x"u8.ToArray()), bytes);
    }

    [Fact]
    public void Mpub_body_is_count_then_size_prefixed_messages()
    {
        ReadOnlyMemory<byte>[] bodies = ["ab"u8.ToArray(), "cde"u8.ToArray()];
        var bytes = Encode(w => CommandWriter.WriteMpub(w, "t", bodies));
        var body = Concat(Size(2), Size(2), "ab"u8.ToArray(), Size(3), "cde"u8.ToArray());
        Assert.Equal(Concat("MPUB t\n"u8.ToArray(), Size(body.Length), body), bytes);
        Assert.Equal(body.Length, CommandWriter.MultiPublishBodyLength(bodies));
    }

    [Fact]
    public void Simple_commands_match_the_protocol_spec()
    {
        Assert.Equal("SUB topic chan#ephemeral\n", Text(w => CommandWriter.WriteSub(w, "topic", "chan#ephemeral")));
        Assert.Equal("RDY 2500\n", Text(w => CommandWriter.WriteRdy(w, 2500)));
        Assert.Equal("RDY 0\n", Text(w => CommandWriter.WriteRdy(w, 0)));
        Assert.Equal("FIN 0123456789abcdef\n", Text(w => CommandWriter.WriteFin(w, Id)));
        Assert.Equal("REQ 0123456789abcdef 90000\n", Text(w => CommandWriter.WriteReq(w, Id, 90000)));
        Assert.Equal("TOUCH 0123456789abcdef\n", Text(w => CommandWriter.WriteTouch(w, Id)));
        Assert.Equal("NOP\n", Text(CommandWriter.WriteNop));
        Assert.Equal("CLS\n", Text(CommandWriter.WriteCls));
    }

    [Fact]
    public void Identify_and_auth_have_size_prefixed_bodies()
    {
        Assert.Equal(Concat("IDENTIFY\n"u8.ToArray(), Size(2), "{}"u8.ToArray()), Encode(w => CommandWriter.WriteIdentify(w, "{}"u8)));
        Assert.Equal(Concat("AUTH\n"u8.ToArray(), Size(3), "abc"u8.ToArray()), Encode(w => CommandWriter.WriteAuth(w, "abc"u8)));
    }

    [Fact]
    public void Identify_request_uses_go_nsq_field_names_and_units()
    {
        var config = new NsqConfig { ClientId = "c1", Hostname = "h1", HeartbeatInterval = TimeSpan.FromSeconds(5), MsgTimeout = TimeSpan.FromSeconds(90), SampleRate = 10, Snappy = true };
        var json = System.Text.Json.JsonDocument.Parse(IdentifyRequest.Build(config)).RootElement;
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
        json = System.Text.Json.JsonDocument.Parse(IdentifyRequest.Build(config)).RootElement;
        Assert.Equal(-1, json.GetProperty("heartbeat_interval").GetInt64());
        Assert.Equal(-1, json.GetProperty("output_buffer_timeout").GetInt64());
        Assert.Equal(-1, json.GetProperty("output_buffer_size").GetInt64());
    }

    private static string Text(Action<IBufferWriter<byte>> write) => Encoding.ASCII.GetString(Encode(write));
}
