using System.Buffers;
using System.Text;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Common.Tests.Protocol;

public class CommandWriterTests
{
    private static ReadOnlySpan<byte> Id => "0123456789abcdef"u8;

    private static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static string Text(Action<IBufferWriter<byte>> write) => Encoding.ASCII.GetString(Encode(write));

    private static byte[] Size(int n) => [(byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n];

    [Fact]
    public void Magic_is_two_spaces_V2() => Assert.Equal("  V2"u8.ToArray(), Encode(CommandWriter.WriteMagic));

    [Fact]
    public void Pub_has_line_then_size_prefixed_body()
    {
        var bytes = Encode(w => CommandWriter.WritePub(w, "orders", "hello"u8));
        Assert.Equal([.. "PUB orders\n"u8, .. Size(5), .. "hello"u8], bytes);
        Assert.Equal(bytes.Length, CommandWriter.PubLength("orders", 5));
    }

    [Fact]
    public void Dpub_carries_defer_milliseconds()
    {
        var bytes = Encode(w => CommandWriter.WriteDpub(w, "t", 1500, "x"u8));
        Assert.Equal([.. "DPUB t 1500\n"u8, .. Size(1), .. "x"u8], bytes);
        Assert.True(Encode(w => CommandWriter.WriteDpub(w, "t", long.MinValue, "x"u8)).Length <= CommandWriter.DpubMaxLength("t", 1));
    }

    [Fact]
    public void Mpub_body_is_count_then_size_prefixed_messages()
    {
        ReadOnlyMemory<byte>[] bodies = ["ab"u8.ToArray(), "cde"u8.ToArray()];
        var bytes = Encode(w => CommandWriter.WriteMpub(w, "t", bodies));
        byte[] body = [.. Size(2), .. Size(2), .. "ab"u8, .. Size(3), .. "cde"u8];
        Assert.Equal([.. "MPUB t\n"u8, .. Size(body.Length), .. body], bytes);
        Assert.Equal(body.Length, MultiPublishBody.Length(bodies));
        Assert.Equal(bytes.Length, CommandWriter.MpubLength("t", bodies));
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
        Assert.Equal("NOP\n", Encoding.ASCII.GetString(CommandWriter.Nop));
    }

    [Fact]
    public void Identify_and_auth_have_size_prefixed_bodies()
    {
        Assert.Equal([.. "IDENTIFY\n"u8, .. Size(2), .. "{}"u8], Encode(w => CommandWriter.WriteIdentify(w, "{}"u8)));
        Assert.Equal([.. "AUTH\n"u8, .. Size(3), .. "abc"u8], Encode(w => CommandWriter.WriteAuth(w, "abc"u8)));
    }

    [Fact]
    public void Commands_appended_to_one_writer_follow_each_other()
    {
        var writer = new ArrayBufferWriter<byte>(1); // grows at every command
        CommandWriter.WriteRdy(writer, 1);
        CommandWriter.WriteFin(writer, Id);
        CommandWriter.WriteNop(writer);
        Assert.Equal("RDY 1\nFIN 0123456789abcdef\nNOP\n", Encoding.ASCII.GetString(writer.WrittenSpan));
    }
}
