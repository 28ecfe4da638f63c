using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Common.Tests.Protocol;

/// <summary>The server's side of commands: lines, params and upstream's number rule.</summary>
public class CommandReaderTests
{
    private static string Text(ReadOnlySequence<byte> line) => Encoding.ASCII.GetString(line.ToArray());

    [Fact]
    public void Takes_lines_off_the_buffer_and_keeps_the_partial_tail()
    {
        var buffer = new ReadOnlySequence<byte>("NOP\nRDY 5\r\nFIN 01"u8.ToArray());
        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out var line));
        Assert.Equal("NOP", Text(line));
        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out line));
        Assert.Equal("RDY 5\r", Text(line));
        Assert.Equal("RDY 5", Encoding.ASCII.GetString(CommandReader.TrimCarriageReturn(line.ToArray())));
        Assert.False(CommandReader.TryReadLine(ref buffer, 64, out _));
        Assert.Equal("FIN 01", Text(buffer));
    }

    [Fact]
    public void Reads_a_line_split_across_segments_and_an_empty_line()
    {
        var buffer = Segments.Split("SUB topic channel\n\n"u8.ToArray(), 2, 10);
        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out var line));
        Assert.Equal("SUB topic channel", Text(line));
        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out line));
        Assert.True(line.IsEmpty);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void An_overlong_line_is_rejected_with_or_without_its_newline()
    {
        var complete = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('A', 65) + "\n"));
        Assert.Throws<InvalidDataException>(() => CommandReader.TryReadLine(ref complete, 64, out _));
        var endless = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('A', 65)));
        Assert.Throws<InvalidDataException>(() => CommandReader.TryReadLine(ref endless, 64, out _));

        var atLimit = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('A', 64) + "\n"));
        Assert.True(CommandReader.TryReadLine(ref atLimit, 64, out var line));
        Assert.Equal(64, line.Length);
    }

    [Fact]
    public void Splits_params_as_upstream_does()
    {
        Assert.Equal("FIN", Encoding.ASCII.GetString(CommandReader.Name("FIN 0123456789abcdef"u8)));
        Assert.Equal("NOP", Encoding.ASCII.GetString(CommandReader.Name("NOP"u8)));

        Assert.Equal(3, CommandReader.SplitParams("REQ 0123456789abcdef 1000"u8, out var id, out var timeout));
        Assert.Equal("0123456789abcdef", Encoding.ASCII.GetString(id));
        Assert.Equal("1000", Encoding.ASCII.GetString(timeout));
        Assert.Equal(1, CommandReader.SplitParams("FIN"u8, out id, out _));
        Assert.True(id.IsEmpty);
        Assert.Equal(3, CommandReader.SplitParams("FIN  x"u8, out id, out var third)); // two spaces: an empty param
        Assert.True(id.IsEmpty);
        Assert.Equal("x", Encoding.ASCII.GetString(third));

        // One char per byte: a client's invalid UTF-8 stays the bytes it sent.
        Assert.Equal(["PUB", "t\u00e9"], CommandReader.Params([.. "PUB t"u8, 0xE9]));
    }

    [Fact]
    public void Knows_which_commands_carry_a_body()
    {
        foreach (var name in new[] { "PUB", "MPUB", "DPUB", "IDENTIFY", "AUTH" })
        {
            Assert.True(CommandReader.HasBody(Encoding.ASCII.GetBytes(name)), name);
        }

        foreach (var name in new[] { "SUB", "RDY", "FIN", "REQ", "TOUCH", "CLS", "NOP", "pub", "" })
        {
            Assert.False(CommandReader.HasBody(Encoding.ASCII.GetBytes(name)), name);
        }
    }

    [Theory]
    [InlineData("0", true, 0UL)]
    [InlineData("", true, 0UL)] // upstream: an empty number is 0
    [InlineData("2500", true, 2500UL)]
    [InlineData("18446744073709551615", true, ulong.MaxValue)]
    [InlineData("18446744073709551616", true, 0UL)] // wraps as Go's uint64 does
    [InlineData("-1", false, 0UL)]
    [InlineData("1x", false, 0UL)]
    [InlineData(" 1", false, 0UL)]
    public void Parses_numbers_as_upstreams_ByteToBase10(string digits, bool ok, ulong expected)
    {
        Assert.Equal(ok, CommandReader.TryParseBase10(Encoding.ASCII.GetBytes(digits), out var value));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void Round_trips_what_the_command_writer_writes()
    {
        var writer = new ArrayBufferWriter<byte>();
        CommandWriter.WritePub(writer, "orders", "hello"u8);
        CommandWriter.WriteReq(writer, "0123456789abcdef"u8, 90000);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);

        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out var line));
        var pub = line.ToArray();
        Assert.True(CommandReader.HasBody(CommandReader.Name(pub)));
        Assert.Equal(["PUB", "orders"], CommandReader.Params(pub));
        var size = BinaryPrimitives.ReadInt32BigEndian(buffer.Slice(0, 4).ToArray());
        Assert.Equal("hello", Encoding.ASCII.GetString(buffer.Slice(4, size).ToArray()));
        buffer = buffer.Slice(4 + size);

        Assert.True(CommandReader.TryReadLine(ref buffer, 64, out line));
        Assert.Equal(3, CommandReader.SplitParams(line.ToArray(), out var id, out var delay));
        Assert.True(MessageId.TryParse(id, out var parsed));
        Assert.Equal(new MessageId(0x0123, 0x456789abcdef), parsed);
        Assert.True(CommandReader.TryParseBase10(delay, out var ms));
        Assert.Equal(90000UL, ms);
        Assert.True(buffer.IsEmpty);
    }
}
