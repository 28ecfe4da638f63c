using NsqSharp.Bench.Wire;
using NsqSharp.Common.Protocol;
using Xunit;

namespace NsqSharp.Bench.Tests.Wire;

/// <summary>The prebuilt publish commands: latency mode stamps each body copy in place through the offsets.</summary>
public class CommandBytesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Body_offsets_point_at_each_copy_of_the_body(int batchSize)
    {
        var body = new byte[8];
        var command = CommandBytes.Publish("t", batchSize, body, out var offsets);
        Assert.Equal(batchSize, offsets.Length);
        for (var i = 0; i < batchSize; i++)
        {
            command.AsSpan(offsets[i], body.Length).Fill((byte)('a' + i));
        }

        var line = batchSize == 1 ? "PUB t\n"u8 : "MPUB t\n"u8;
        Assert.True(command.AsSpan().StartsWith(line));
        var payload = command.AsMemory(line.Length + 4);
        if (batchSize == 1)
        {
            Assert.Equal(new string('a', 8), System.Text.Encoding.ASCII.GetString(payload.Span));
            return;
        }

        Assert.True(MultiPublishBody.TryParse(payload, 1024, 1024, out var messages, out _));
        Assert.Equal(["aaaaaaaa", "bbbbbbbb", "cccccccc"], messages.Select(m => System.Text.Encoding.ASCII.GetString(m.Span)));
    }
}
