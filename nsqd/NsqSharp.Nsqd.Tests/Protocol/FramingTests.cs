using System.Text;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Connection setup, command framing and garbage input over real sockets: the magic, unknown and
/// empty commands, CRLF, truncated frames, over-long lines (upstream tcp.go, protocol_v2.go IOLoop,
/// TestFatalError, TestEmptyCommand).
/// </summary>
public sealed class FramingTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Theory(Timeout = 30_000)]
    [InlineData("  V1")]
    [InlineData("V2  ")]
    [InlineData("GET ")]
    [InlineData("\0\0\0\0")]
    public async Task BadMagicIsAnsweredWithBadProtocolAndClosed(string magic)
    {
        await using var conn = await Nsqd.ConnectAsync(sendMagic: false);
        await conn.WriteAsync(Encoding.ASCII.GetBytes(magic));
        await conn.ExpectFatalAsync("E_BAD_PROTOCOL");
    }

    [Fact(Timeout = 30_000)]
    public async Task ShortMagicThenCloseDoesNotHurtTheServer()
    {
        await using (var conn = await Nsqd.ConnectAsync(sendMagic: false))
        {
            await conn.WriteAsync(" "u8.ToArray());
            conn.ShutdownSend();
            await conn.ExpectClosedAsync();
        }

        await using var ok = await Nsqd.ConnectIdentifiedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task UnknownCommandIsFatal()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("ASDF");
        await conn.ExpectFatalAsync("E_INVALID invalid command ASDF");
    }

    [Theory(Timeout = 30_000)]
    [InlineData("nop", "E_INVALID invalid command nop")]
    [InlineData("PUBX t", "E_INVALID invalid command PUBX")]
    [InlineData(" NOP", "E_INVALID invalid command ")]
    [InlineData("", "E_INVALID invalid command ")]
    public async Task CommandsAreCaseSensitiveAndSplitOnSingleSpaces(string line, string error)
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync(line);
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task EmptyLinesAreAnInvalidCommandNotACrash()
    {
        // upstream TestEmptyCommand (issue #120): "\n\n" must not bring the server down.
        await using (var conn = await Nsqd.ConnectAsync())
        {
            await conn.WriteAsync("\n\n"u8.ToArray());
            await conn.ExpectFatalAsync("E_INVALID invalid command ");
        }

        var ping = await Nsqd.GetAsync("/ping");
        Assert.Equal(200, ping.Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task CarriageReturnLineEndingsAreAccepted()
    {
        var topic = Names.Unique("crlf");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync("NOP\r\n"u8.ToArray());
        var body = "crlf body"u8.ToArray();
        var head = Encoding.ASCII.GetBytes($"PUB {topic}\r\n");
        await conn.WriteAsync([.. head, .. RawConnection.Int32(body.Length), .. body]);
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task CommandsMayArriveOneByteAtATime()
    {
        var topic = Names.Unique("bytewise");
        await using var conn = await Nsqd.ConnectAsync();
        var command = RawConnection.Command($"PUB {topic}", "slow"u8.ToArray());
        foreach (var b in command)
        {
            await conn.WriteAsync([b]);
        }

        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task SeveralCommandsInOneWriteAreAllAnswered()
    {
        var topic = Names.Unique("batched");
        await using var conn = await Nsqd.ConnectAsync();
        var bytes = new List<byte>();
        for (var i = 0; i < 50; i++)
        {
            bytes.AddRange("NOP\n"u8.ToArray());
            bytes.AddRange(RawConnection.Command($"PUB {topic}", Encoding.ASCII.GetBytes($"m{i}")));
        }

        await conn.WriteAsync([.. bytes]);
        for (var i = 0; i < 50; i++)
        {
            await conn.ExpectResponseAsync("OK");
        }

        var t = await Nsqd.TopicStatsAsync(topic);
        Assert.Equal(50, t!.Value.GetProperty("message_count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task OverlongCommandLineClosesTheConnection()
    {
        // upstream reads lines through a 16 KiB bufio.Reader; a longer line ends the connection.
        await using var conn = await Nsqd.ConnectAsync();
        var line = new byte[70 * 1024];
        Array.Fill(line, (byte)'A');
        try
        {
            await conn.WriteAsync(line);
        }
        catch (IOException)
        {
            // the server may already have closed while we were writing
        }

        await conn.ExpectClosedAsync();
    }

    [Fact(Timeout = 30_000)]
    public async Task BinaryGarbageIsRejected()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([0xff, 0xfe, 0x00, 0x01, 0x02, (byte)'\n']);
        var frame = await conn.ReadFrameAsync();
        Assert.Equal(Common.Protocol.FrameType.Error, frame.Type);
        Assert.StartsWith("E_INVALID invalid command ", frame.Text, StringComparison.Ordinal);
        await conn.ExpectClosedAsync();
    }

    [Theory(Timeout = 30_000)]
    [InlineData("PUB", "E_BAD_MESSAGE PUB failed to read message body size", 2)]
    [InlineData("DPUB", "E_BAD_MESSAGE DPUB failed to read message body size", 0)]
    [InlineData("MPUB", "E_BAD_BODY MPUB failed to read body size", 3)]
    [InlineData("IDENTIFY", "E_BAD_BODY IDENTIFY failed to read body size", 1)]
    [InlineData("AUTH", "E_BAD_BODY AUTH failed to read body size", 2)]
    public async Task TruncatedSizeIsAFatalError(string command, string error, int sizeBytes)
    {
        var topic = Names.Unique("trunc");
        var line = command switch
        {
            "PUB" or "MPUB" => $"{command} {topic}",
            "DPUB" => $"DPUB {topic} 10",
            _ => command,
        };
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes(line + "\n"), .. new byte[sizeBytes]]);
        conn.ShutdownSend();
        await conn.ExpectFatalAsync(error);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("PUB", "E_BAD_MESSAGE PUB failed to read message body")]
    [InlineData("DPUB", "E_BAD_MESSAGE DPUB failed to read message body")]
    [InlineData("IDENTIFY", "E_BAD_BODY IDENTIFY failed to read body")]
    [InlineData("AUTH", "E_BAD_BODY AUTH failed to read body")]
    public async Task TruncatedBodyIsAFatalError(string command, string error)
    {
        var topic = Names.Unique("trunc");
        var line = command switch
        {
            "PUB" => $"PUB {topic}",
            "DPUB" => $"DPUB {topic} 10",
            _ => command,
        };
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes(line + "\n"), .. RawConnection.Int32(20), .. "only ten.."u8.ToArray()]);
        conn.ShutdownSend();
        await conn.ExpectFatalAsync(error);

        // nothing of the truncated message was published
        var t = await Nsqd.TopicStatsAsync(topic);
        Assert.True(t == null || t.Value.GetProperty("message_count").GetInt64() == 0);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(2, "E_BAD_BODY MPUB failed to read message count")]
    [InlineData(6, "E_BAD_MESSAGE MPUB failed to read message(0) body size")]
    [InlineData(12, "E_BAD_MESSAGE MPUB failed to read message body")]
    [InlineData(16, "E_BAD_MESSAGE MPUB failed to read message(1) body size")]
    [InlineData(20, "E_BAD_MESSAGE MPUB failed to read message body")]
    public async Task TruncatedMultiPublishReportsWhereItStopped(int sentBytes, string error)
    {
        // upstream parses MPUB straight off the socket, so the error names the part that was cut.
        var topic = Names.Unique("mtrunc");
        var body = RawConnection.MultiBody(["abcdef"u8.ToArray(), "ghijkl"u8.ToArray()]);
        await using var conn = await Nsqd.ConnectAsync();
        await conn.WriteAsync([.. Encoding.ASCII.GetBytes($"MPUB {topic}\n"), .. RawConnection.Int32(body.Length), .. body[..sentBytes]]);
        conn.ShutdownSend();
        await conn.ExpectFatalAsync(error);
    }

    [Fact(Timeout = 30_000)]
    public async Task NopIsValidInEveryStateAndAnswersNothing()
    {
        var topic = Names.Unique("nop");
        await using var conn = await Nsqd.ConnectAsync();
        await conn.SendAsync("NOP");
        await conn.SendAsync("IDENTIFY", "{}"u8.ToArray());
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("NOP");
        await conn.SendAsync($"SUB {topic} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync("NOP");
        await conn.SendAsync("CLS");
        await conn.ExpectResponseAsync("CLOSE_WAIT");
        await conn.SendAsync("NOP extra params are ignored");
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact(Timeout = 30_000)]
    public async Task AServerThatRejectedGarbageStillServesOthers()
    {
        var topic = Names.Unique("survivor");
        var bad = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var conn = await Nsqd.ConnectAsync(sendMagic: i % 2 == 0);
                bad.Add(conn);
                await conn.WriteAsync(Encoding.ASCII.GetBytes("\u0001garbage\u00ff\n" + new string('x', 100)));
            }

            await using var good = await Nsqd.ConnectAsync();
            await good.PublishAsync(topic, "still alive");
            await good.ExpectResponseAsync("OK");
        }
        finally
        {
            foreach (var conn in bad)
            {
                await conn.DisposeAsync();
            }
        }
    }
}
