using System.Buffers;
using System.Text;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Tests;

/// <summary>The client's side of message frames: its decoder and ids. The codec itself (split buffers, bad input) is tested in NsqSharp.Common.Tests.</summary>
public class MessageDecoderTests
{
    [Fact]
    public void Decodes_a_message_frame_into_the_client_fields()
    {
        var frame = new byte[MessageFrame.FrameLength(4)];
        MessageFrame.Write(frame, 42, 3, "abcdefabcdefabcd"u8, "body"u8);

        var message = MessageDecoder.Decode(new ReadOnlySequence<byte>(frame, 8, frame.Length - 8));
        Assert.Equal(new DecodedMessage(NsqMessageId.FromBytes("abcdefabcdefabcd"u8), 42, 3, message.Body), message);
        Assert.Equal("body", Encoding.ASCII.GetString(message.Body));
    }

    [Fact]
    public void Message_ids_round_trip_and_decode_our_log_positions()
    {
        Assert.True(NsqMessageId.TryParse("0001000000000010", out var id));
        Assert.Equal("0001000000000010", id.ToString());
        Assert.True(id.TryGetLogPosition(out var partition, out var offset));
        Assert.Equal(1, partition);
        Assert.Equal(16, offset);
        Assert.False(NsqMessageId.TryParse("short", out _));
        Assert.Equal(id, NsqMessageId.FromBytes("0001000000000010"u8));
    }
}
