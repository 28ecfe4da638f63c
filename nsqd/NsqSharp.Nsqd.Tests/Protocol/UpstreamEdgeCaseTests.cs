using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Corners where upstream's Go types decide the answer: IDENTIFY integers are Go ints (int64), counts and
/// timeouts go through ByteToBase10 (a uint64 that wraps), and error strings echo the client's bytes as
/// they are (fmt %s of a []byte) or quoted by %q (invalid UTF-8 as \xNN).
/// </summary>
public sealed class UpstreamEdgeCaseTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Theory(Timeout = 30_000)]
    [InlineData("heartbeat_interval", "99999999999", "E_BAD_BODY IDENTIFY heartbeat interval (99999999999) is invalid")]
    [InlineData("heartbeat_interval", "-99999999999", "E_BAD_BODY IDENTIFY heartbeat interval (-99999999999) is invalid")]
    [InlineData("output_buffer_size", "99999999999", "E_BAD_BODY IDENTIFY output buffer size (99999999999) is invalid")]
    [InlineData("output_buffer_timeout", "99999999999", "E_BAD_BODY IDENTIFY output buffer timeout (99999999999) is invalid")]
    [InlineData("msg_timeout", "9223372036854775807", "E_BAD_BODY IDENTIFY msg timeout (9223372036854775807) is invalid")]
    // beyond what the Go field holds: sample_rate is an int32, the others int64
    [InlineData("sample_rate", "99999999999", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    [InlineData("heartbeat_interval", "9223372036854775808", "E_BAD_BODY IDENTIFY failed to decode JSON body")]
    public async Task IdentifyIntegersHaveGosWidths(string field, string number, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes($"{{\"{field}\":{number}}}"));
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("RDY 99999999999999999999", "E_INVALID RDY count 7766279631452241919 out of range 0-2500")]
    [InlineData("RDY 18446744073709551615", "E_INVALID RDY count -1 out of range 0-2500")]
    [InlineData("RDY 9223372036854775808", "E_INVALID RDY count -9223372036854775808 out of range 0-2500")]
    public async Task RdyCountsBeyondInt64WrapAsUpstreamsUint64(string line, string error)
    {
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("rdywrap"), "ch");
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("99999999999999999999", "7766279631452241919")]
    [InlineData("18446744073709551615", "18446744073709551615")]
    [InlineData("10000000000000000000", "10000000000000000000")]
    public async Task DpubTimeoutsBeyondInt64AreOutOfRangeNotUnparsable(string timeout, string echoed)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync($"DPUB {Names.Unique("dpubwrap")} {timeout}", "x"u8.ToArray());
        await conn.ExpectFatalAsync($"E_INVALID DPUB timeout {echoed} out of range 0-3600000");
    }

    [Fact(Timeout = 30_000)]
    public async Task ReqTimeoutsBeyondInt64AreClampedNotUnparsable()
    {
        // 99999999999999999999 ms wraps to a negative duration upstream: clamped to 0, requeued at once.
        var topic = Names.Unique("reqwrap");
        await Nsqd.PublishAsync(topic, "again");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        var first = await conn.ExpectMessageAsync();
        await conn.SendAsync($"REQ {first.Id} 99999999999999999999");
        var second = await conn.ExpectMessageAsync();
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(2, second.Attempts);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnInvalidCommandIsEchoedAsTheBytesSent()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([0xFF, 0xFE, (byte)'X', (byte)'\n']);
        await ExpectFatalBytesAsync(conn, [.. "E_INVALID invalid command "u8, 0xFF, 0xFE, (byte)'X']);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnUnparsableRdyCountIsEchoedAsTheBytesSent()
    {
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("rdyraw"), "ch");
        await conn.WriteAsync([.. "RDY 1"u8, 0xC3, (byte)'\n']);
        await ExpectFatalBytesAsync(conn, [.. "E_INVALID RDY could not parse count 1"u8, 0xC3]);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnUnknownMessageIdIsEchoedAsTheBytesSent()
    {
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("finraw"), "ch");
        byte[] id = [.. "00000000000000"u8, 0xFF, 0x80];
        await conn.WriteAsync([.. "FIN "u8, .. id, (byte)'\n']);
        var frame = await conn.ReadNonHeartbeatAsync();
        Assert.Equal(FrameType.Error, frame.Type);
        Assert.Equal([.. "E_FIN_FAILED FIN "u8, .. id, .. " failed ID not in flight"u8], frame.Data);
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(200)); // not fatal
    }

    [Theory(Timeout = 30_000)]
    [InlineData("PUB", "E_BAD_TOPIC PUB topic name ")]
    [InlineData("MPUB", "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name ")]
    public async Task InvalidUtf8InANameIsQuotedAsGoDoes(string command, string prefix)
    {
        // %q of "t\xff" is "t\xff": the invalid byte escaped, not a replacement character
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes(command + " t"), 0xFF, (byte)'\n']);
        await ExpectFatalBytesAsync(conn, Encoding.ASCII.GetBytes(prefix + "\"t\\xff\" is not valid"));
    }

    [Fact(Timeout = 30_000)]
    public async Task PrintableUnicodeInANameIsQuotedAsItIs()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. "SUB topic t\u00fc\n"u8]);
        await ExpectFatalBytesAsync(conn, [.. "E_BAD_CHANNEL SUB channel name \"t\u00fc\" is not valid"u8]);
    }

    private static async Task ExpectFatalBytesAsync(RawConnection conn, byte[] expected)
    {
        var frame = await conn.ReadNonHeartbeatAsync();
        Assert.Equal(FrameType.Error, frame.Type);
        Assert.Equal(expected, frame.Data);
        await conn.ExpectClosedAsync();
    }
}
