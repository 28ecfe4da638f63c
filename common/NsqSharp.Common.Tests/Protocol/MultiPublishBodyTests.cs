using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Common.Tests.Protocol;

/// <summary>The MPUB body: [int32 count]([int32 size][bytes])×count, parsed with upstream's checks in upstream's order.</summary>
public class MultiPublishBodyTests
{
    private const long MaxMessage = 100;
    private const long MaxBody = 1000;

    private static byte[] Ints(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    private static MultiPublishError Fault(byte[] body)
    {
        Assert.False(MultiPublishBody.TryParse(body, MaxMessage, MaxBody, out _, out var error));
        return error;
    }

    [Fact]
    public void Round_trips_what_it_writes()
    {
        ReadOnlyMemory<byte>[] bodies = ["a"u8.ToArray(), "bc"u8.ToArray(), new byte[100]];
        var writer = new ArrayBufferWriter<byte>();
        MultiPublishBody.Write(writer, bodies);
        Assert.Equal(MultiPublishBody.Length(bodies), writer.WrittenCount);

        Assert.True(MultiPublishBody.TryParse(writer.WrittenMemory, MaxMessage, MaxBody, out var messages, out _));
        Assert.Equal(bodies.Select(b => b.ToArray()), messages.Select(m => m.ToArray()));
        Assert.Equal("bc", Encoding.ASCII.GetString(messages[1].Span));
    }

    [Fact]
    public void A_missing_count_is_its_own_fault()
    {
        Assert.Equal(MultiPublishFault.MissingCount, Fault([0, 0, 1]).Fault);
        Assert.Equal(MultiPublishFault.MissingCount, Fault([]).Fault);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(200)] // more than (1000 - 4) / 5 messages cannot fit in a body
    public void A_count_out_of_range_is_rejected_with_its_value(int count)
    {
        Assert.Equal(new MultiPublishError(MultiPublishFault.InvalidCount, 0, count), Fault(Ints(count)));
    }

    [Fact]
    public void A_body_that_ends_before_a_size_names_that_message()
    {
        Assert.Equal(new MultiPublishError(MultiPublishFault.MissingSize, 1, 0), Fault([.. Ints(2, 1), (byte)'a', 0, 0]));
    }

    [Theory]
    [InlineData(0, MultiPublishFault.InvalidSize)]
    [InlineData(-5, MultiPublishFault.InvalidSize)]
    [InlineData(101, MultiPublishFault.TooBig)]
    [InlineData(int.MaxValue, MultiPublishFault.TooBig)]
    [InlineData(3, MultiPublishFault.MissingBody)] // truncated: 3 announced, 2 sent
    public void A_bad_message_size_names_the_message_and_the_size(int size, MultiPublishFault fault)
    {
        Assert.Equal(new MultiPublishError(fault, 1, size), Fault([.. Ints(2, 1), (byte)'a', .. Ints(size), (byte)'b', (byte)'c']));
    }

    [Fact]
    public void A_fault_after_good_messages_fails_the_whole_body()
    {
        // MPUB is atomic: the good first message does not make the body half valid.
        var error = Fault([.. Ints(2, 1), (byte)'a', .. Ints(101), .. new byte[101]]);
        Assert.Equal(MultiPublishFault.TooBig, error.Fault);
    }
}
