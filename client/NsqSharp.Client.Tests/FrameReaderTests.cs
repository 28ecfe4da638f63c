using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using NsqSharp.Client.Protocol;
using NsqSharp.Client.Tests.Fakes;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Tests;

public class FrameReaderTests
{
    private static byte[] Frame(int type, byte[] data)
    {
        var frame = new byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, data.Length + 4);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), type);
        data.CopyTo(frame, 8);
        return frame;
    }

    [Fact]
    public void Reads_consecutive_frames_and_keeps_the_partial_tail()
    {
        var bytes = Frame(0, "OK"u8.ToArray()).Concat(Frame(1, "E_INVALID x"u8.ToArray())).Concat(Frame(0, "OK"u8.ToArray())[..5]).ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameReader.TryReadFrame(ref buffer, 1024, out var type, out var data));
        Assert.Equal(FrameType.Response, type);
        Assert.Equal("OK", Encoding.ASCII.GetString(data.ToArray()));
        Assert.True(FrameReader.TryReadFrame(ref buffer, 1024, out type, out data));
        Assert.Equal(FrameType.Error, type);
        Assert.Equal("E_INVALID x", Encoding.ASCII.GetString(data.ToArray()));
        Assert.False(FrameReader.TryReadFrame(ref buffer, 1024, out _, out _));
        Assert.Equal(5, buffer.Length);
    }

    [Fact]
    public void Reads_a_frame_split_across_segments()
    {
        var bytes = Frame(2, FakeClient.EncodeMessage("abcdefabcdefabcd", 3, "body"u8.ToArray(), 42));
        var buffer = Segments.Split(bytes, 3, 9, 17);
        Assert.True(FrameReader.TryReadFrame(ref buffer, 1024, out var type, out var data));
        Assert.Equal(FrameType.Message, type);
        var message = MessageDecoder.Decode(data);
        Assert.Equal(42, message.TimestampNanoseconds);
        Assert.Equal(3, message.Attempts);
        Assert.Equal("abcdefabcdefabcd", message.Id.ToString());
        Assert.Equal("body", Encoding.ASCII.GetString(message.Body));
        Assert.True(buffer.IsEmpty);
    }

    [Theory]
    [InlineData(3, 0)]
    [InlineData(2000, 0)]
    [InlineData(4, 7)]
    [InlineData(4, -1)]
    public void Rejects_bad_sizes_and_types(int size, int type)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(bytes, size);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), type);
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Throws<NsqProtocolException>(() => FrameReader.TryReadFrame(ref buffer, 1024, out _, out _));
    }

    [Fact]
    public void Message_shorter_than_header_is_a_protocol_error() =>
        Assert.Throws<NsqProtocolException>(() => MessageDecoder.Decode(new ReadOnlySequence<byte>(new byte[25])));

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

    private static class Segments
    {
        public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
        {
            var start = new Segment(bytes.AsMemory(0, cuts[0]));
            var last = start;
            var previous = cuts[0];
            foreach (var cut in cuts.Skip(1).Append(bytes.Length))
            {
                last = last.Append(bytes.AsMemory(previous, cut - previous));
                previous = cut;
            }

            return new ReadOnlySequence<byte>(start, 0, last, last.Memory.Length);
        }

        private sealed class Segment : ReadOnlySequenceSegment<byte>
        {
            public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

            public Segment Append(ReadOnlyMemory<byte> memory)
            {
                var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
                Next = next;
                return next;
            }
        }
    }
}
