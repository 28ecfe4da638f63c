using System.Buffers;
using System.Text;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Common.Tests.Protocol;

/// <summary>Message frames: [frame header][int64 timestamp ns][uint16 attempts][16-byte id][body].</summary>
public class MessageFrameTests
{
    [Fact]
    public void Writes_the_upstream_layout_with_our_hex_id()
    {
        var frame = new byte[MessageFrame.FrameLength(2)];
        Assert.Equal(frame.Length, MessageFrame.Write(frame, 0x0102030405060708, 0x0A0B, new MessageId(1, 16), "hi"u8));
        byte[] expected =
        [
            0, 0, 0, 4 + 26 + 2, 0, 0, 0, 2,
            1, 2, 3, 4, 5, 6, 7, 8,
            0x0A, 0x0B,
            .. "0001000000000010"u8,
            .. "hi"u8,
        ];
        Assert.Equal(expected, frame);
    }

    [Fact]
    public void Round_trips_through_the_frame_reader()
    {
        var frame = new byte[MessageFrame.FrameLength(4)];
        MessageFrame.Write(frame, 1_700_000_000_000_000_000, 3, "abcdefabcdefabcd"u8, "body"u8);
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameReader.TryRead(ref buffer, 1024, out var type, out var data));
        Assert.Equal(FrameType.Message, type);

        var header = MessageFrame.Header(data, stackalloc byte[MessageFrame.HeaderLength]);
        Assert.Equal(1_700_000_000_000_000_000, MessageFrame.Timestamp(header));
        Assert.Equal(3, MessageFrame.Attempts(header));
        Assert.Equal("abcdefabcdefabcd", Encoding.ASCII.GetString(MessageFrame.Id(header)));
        Assert.Equal("body", Encoding.ASCII.GetString(MessageFrame.Body(data).ToArray()));

        var contiguous = data.ToArray();
        Assert.Equal(header.ToArray(), MessageFrame.Header(contiguous).ToArray());
        Assert.Equal("body", Encoding.ASCII.GetString(MessageFrame.Body(contiguous)));
    }

    [Theory]
    [InlineData(3, 9, 17)] // header cut three times: copied into the scratch buffer
    [InlineData(20)] // cut inside the id
    [InlineData(34)] // cut exactly after the header: read in place
    public void Reads_a_message_split_across_segments(params int[] cuts)
    {
        var frame = new byte[MessageFrame.FrameLength(4)];
        MessageFrame.Write(frame, 42, 7, "0123456789abcdef"u8, "body"u8);
        var buffer = Segments.Split(frame, cuts);
        Assert.True(FrameReader.TryRead(ref buffer, 1024, out _, out var data));

        var header = MessageFrame.Header(data, stackalloc byte[MessageFrame.HeaderLength]);
        Assert.Equal(42, MessageFrame.Timestamp(header));
        Assert.Equal(7, MessageFrame.Attempts(header));
        Assert.Equal("0123456789abcdef", Encoding.ASCII.GetString(MessageFrame.Id(header)));
        Assert.Equal("body", Encoding.ASCII.GetString(MessageFrame.Body(data).ToArray()));
    }

    [Fact]
    public void An_empty_body_is_a_header_alone()
    {
        var frame = new byte[MessageFrame.FrameLength(0)];
        MessageFrame.Write(frame, 1, 1, new MessageId(0, 1), []);
        var data = frame.AsSpan(8);
        Assert.Equal(MessageFrame.HeaderLength, data.Length);
        Assert.True(MessageFrame.Body(data).IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(25)]
    public void Data_shorter_than_the_header_is_rejected(int length)
    {
        Assert.Throws<InvalidDataException>(() => MessageFrame.Header(new byte[length]).Length);
        Assert.Throws<InvalidDataException>(() => MessageFrame.Header(new ReadOnlySequence<byte>(new byte[length]), new byte[26]).Length);
    }

    [Fact]
    public void An_id_must_be_16_bytes()
    {
        var frame = new byte[MessageFrame.FrameLength(0)];
        Assert.Throws<ArgumentException>(() => MessageFrame.Write(frame, 1, 1, "short"u8, []));
    }
}
