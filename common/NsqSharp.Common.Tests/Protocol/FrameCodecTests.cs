using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Common.Tests.Protocol;

/// <summary>FrameWriter and FrameReader: [int32 size][int32 type][data], size = 4 + data length.</summary>
public class FrameCodecTests
{
    private static byte[] Header(int size, int type)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, size);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), type);
        return header;
    }

    [Fact]
    public void Writes_the_upstream_layout()
    {
        Assert.Equal([0, 0, 0, 6, 0, 0, 0, 0, (byte)'O', (byte)'K'], FrameWriter.ToArray(FrameType.Response, "OK"u8));
        Assert.Equal([0, 0, 0, 4, 0, 0, 0, 1], FrameWriter.ToArray(FrameType.Error, []));
        Assert.Equal(10, FrameWriter.Length(2));

        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.Write(writer, FrameType.Error, "E_INVALID x"u8);
        Assert.Equal(FrameWriter.ToArray(FrameType.Error, "E_INVALID x"u8), writer.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(FrameType.Response, "")]
    [InlineData(FrameType.Error, "E_BAD_TOPIC PUB topic name \"a b\" is not valid")]
    [InlineData(FrameType.Message, "any bytes at all")]
    public void Round_trips_every_frame_type(FrameType type, string text)
    {
        var data = Encoding.UTF8.GetBytes(text);
        var buffer = new ReadOnlySequence<byte>(FrameWriter.ToArray(type, data));
        Assert.True(FrameReader.TryRead(ref buffer, 1024, out var readType, out var readData));
        Assert.Equal(type, readType);
        Assert.Equal(data, readData.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Reads_consecutive_frames_and_keeps_the_partial_tail()
    {
        byte[] bytes =
        [
            .. FrameWriter.ToArray(FrameType.Response, "OK"u8),
            .. FrameWriter.ToArray(FrameType.Error, "E_INVALID x"u8),
            .. FrameWriter.ToArray(FrameType.Response, "OK"u8).AsSpan(0, 5),
        ];
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.True(FrameReader.TryRead(ref buffer, 1024, out var type, out var data));
        Assert.Equal(FrameType.Response, type);
        Assert.Equal("OK", Encoding.ASCII.GetString(data.ToArray()));
        Assert.True(FrameReader.TryRead(ref buffer, 1024, out type, out data));
        Assert.Equal(FrameType.Error, type);
        Assert.Equal("E_INVALID x", Encoding.ASCII.GetString(data.ToArray()));
        Assert.False(FrameReader.TryRead(ref buffer, 1024, out _, out _));
        Assert.Equal(5, buffer.Length);
    }

    [Theory]
    [InlineData(1)] // inside the size
    [InlineData(6)] // inside the type: the header is copied out of two segments
    [InlineData(9)] // inside the data
    public void Reads_a_frame_split_across_segments(int cut)
    {
        var frame = FrameWriter.ToArray(FrameType.Response, "hello"u8);
        var buffer = Segments.Split(frame, cut);
        Assert.True(FrameReader.TryRead(ref buffer, 1024, out var type, out var data));
        Assert.Equal(FrameType.Response, type);
        Assert.Equal("hello", Encoding.ASCII.GetString(data.ToArray()));
        Assert.True(buffer.IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(12)]
    public void A_truncated_frame_waits_for_more_and_leaves_the_buffer_alone(int available)
    {
        var frame = FrameWriter.ToArray(FrameType.Response, "hello"u8);
        var buffer = new ReadOnlySequence<byte>(frame, 0, available);
        Assert.False(FrameReader.TryRead(ref buffer, 1024, out _, out var data));
        Assert.Equal(available, buffer.Length);
        Assert.True(data.IsEmpty);
    }

    [Theory]
    [InlineData(3, 0)] // smaller than the type field
    [InlineData(0, 0)]
    [InlineData(-1, 0)] // negative size
    [InlineData(int.MinValue, 0)]
    [InlineData(1029, 0)] // data one byte over the limit
    [InlineData(int.MaxValue, 0)]
    [InlineData(4, 3)] // unknown type
    [InlineData(4, -1)]
    public void Rejects_bad_sizes_and_types_as_soon_as_the_header_is_in(int size, int type)
    {
        var buffer = new ReadOnlySequence<byte>(Header(size, type));
        Assert.Throws<InvalidDataException>(() => FrameReader.TryRead(ref buffer, 1024, out _, out _));
        Assert.Throws<InvalidDataException>(() => FrameReader.ReadHeader(Header(size, type), 1024, out _));
    }

    [Fact]
    public void Data_of_exactly_the_limit_is_accepted()
    {
        Assert.Equal(1024, FrameReader.ReadHeader(Header(1028, 2), 1024, out var type));
        Assert.Equal(FrameType.Message, type);
        Assert.Equal(0, FrameReader.ReadHeader(Header(4, 0), 0, out _));
    }

    [Fact]
    public async Task Reads_one_frame_from_a_stream_and_nothing_past_it()
    {
        using var stream = new MemoryStream([.. FrameWriter.ToArray(FrameType.Error, "E_X y"u8), .. "rest"u8]);
        var (type, data) = await FrameReader.ReadAsync(stream, 1024, CancellationToken.None);
        Assert.Equal(FrameType.Error, type);
        Assert.Equal("E_X y", Encoding.ASCII.GetString(data));
        Assert.Equal(FrameWriter.Length(5), stream.Position);
    }

    [Fact]
    public async Task A_stream_that_ends_within_a_frame_is_end_of_stream()
    {
        var frame = FrameWriter.ToArray(FrameType.Response, "hello"u8);
        using var headerOnly = new MemoryStream(frame[..8]);
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await FrameReader.ReadAsync(headerOnly, 1024, CancellationToken.None));
        using var partHeader = new MemoryStream(frame[..3]);
        await Assert.ThrowsAsync<EndOfStreamException>(async () => await FrameReader.ReadAsync(partHeader, 1024, CancellationToken.None));
    }

    [Fact]
    public async Task A_stream_with_an_oversize_frame_is_rejected_before_its_data_is_read()
    {
        using var stream = new MemoryStream(Header(64 * 1024 * 1024, 0)); // claims 64 MiB, sends none
        await Assert.ThrowsAsync<InvalidDataException>(async () => await FrameReader.ReadAsync(stream, 1024, CancellationToken.None));
    }
}
