extern alias tail;
extern alias tonsq;

using System.Buffers;
using System.Text;
using NsqSharp.Client.Tests.Fakes;
using TailApp = tail::NsqSharp.Tools.Tail.TailApp;
using TailOptions = tail::NsqSharp.Tools.Tail.TailOptions;
using ToNsqApp = tonsq::NsqSharp.Tools.ToNsq.ToNsqApp;
using ToNsqOptions = tonsq::NsqSharp.Tools.ToNsq.ToNsqOptions;

namespace NsqSharp.Client.Tests;

public class ToolTests
{
    private static readonly TimeSpan Wait = TestTimeouts.Default;

    [Fact]
    public void Stdin_is_split_on_the_delimiter_keeping_an_unterminated_last_piece()
    {
        var buffer = new ReadOnlySequence<byte>("a,,bc,d"u8.ToArray());
        var pieces = new List<string>();
        while (ToNsqApp.TryTakeLine(ref buffer, (byte)',', atEnd: true, out var line))
        {
            pieces.Add(Encoding.UTF8.GetString(line.ToArray()));
        }

        Assert.Equal(["a", "", "bc", "d"], pieces);
        buffer = new ReadOnlySequence<byte>("tail"u8.ToArray());
        Assert.False(ToNsqApp.TryTakeLine(ref buffer, (byte)'\n', atEnd: false, out _));
    }

    [Fact]
    public async Task To_nsq_publishes_each_piece_to_every_nsqd()
    {
        await using var first = new FakeNsqd();
        await using var second = new FakeNsqd();
        var options = new ToNsqOptions
        {
            Topic = "events",
            Delimiter = ",",
            NsqdTcpAddresses = [first.Address, second.Address],
            ProducerOptions = ["snappy,true"],
        };
        var errors = new StringWriter();
        var run = new ToNsqApp(options, new MemoryStream("one,two,,three"u8.ToArray()), errors).RunAsync(CancellationToken.None);

        foreach (var server in new[] { first, second })
        {
            var client = await server.AcceptReadyAsync();
            Assert.True(client.Snappy);
            Assert.StartsWith("to_nsq/", client.Identify.GetProperty("user_agent").GetString(), StringComparison.Ordinal);
            foreach (var expected in new[] { "one", "two", "three" })
            {
                var pub = await client.ExpectAsync("PUB");
                Assert.Equal(["events"], pub.Args);
                Assert.Equal(expected, pub.BodyText);
                await client.SendResponseAsync("OK");
            }
        }

        Assert.Equal(0, await run.WaitAsync(Wait));
        Assert.Equal("", errors.ToString());
    }

    [Fact]
    public async Task To_nsq_reports_usage_errors_and_publish_failures()
    {
        var errors = new StringWriter();
        Assert.Equal(1, await new ToNsqApp(new ToNsqOptions { NsqdTcpAddresses = ["127.0.0.1:1"] }, Stream.Null, errors).RunAsync(default));
        Assert.Equal(1, await new ToNsqApp(new ToNsqOptions { Topic = "t", Delimiter = "ab", NsqdTcpAddresses = ["127.0.0.1:1"] }, Stream.Null, errors).RunAsync(default));
        Assert.Equal(1, await new ToNsqApp(new ToNsqOptions { Topic = "t" }, Stream.Null, errors).RunAsync(default));
        Assert.Equal("--topic required\n--delimiter must be a single byte\n--nsqd-tcp-address required\n", errors.ToString().Replace("\r", ""));

        await using var server = new FakeNsqd();
        errors = new StringWriter();
        var run = new ToNsqApp(new ToNsqOptions { Topic = "t", NsqdTcpAddresses = [server.Address] },
            new MemoryStream("x\n"u8.ToArray()), errors).RunAsync(default);
        var client = await server.AcceptReadyAsync();
        await client.ExpectAsync("PUB");
        await client.SendErrorAsync("E_BAD_TOPIC PUB topic name \"t\" is not valid");
        Assert.Equal(1, await run.WaitAsync(Wait));
        Assert.Contains("E_BAD_TOPIC", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nsq_tail_prints_n_messages_with_topic_prefix_then_exits()
    {
        await using var server = new FakeNsqd();
        var options = new TailOptions
        {
            Topics = ["events"],
            NsqdTcpAddresses = [server.Address],
            TotalMessages = 2,
            PrintTopic = true,
            ConsumerOptions = ["max_attempts,3"],
        };
        var output = new MemoryStream();
        var run = new TailApp(options, output, new StringWriter()).RunAsync(CancellationToken.None);
        var client = await server.AcceptReadyAsync(subscribe: true);
        Assert.Equal("events", client.Subscription!.Value.Topic);
        Assert.Matches("^tail[0-9]{6}#ephemeral$", client.Subscription!.Value.Channel);
        Assert.Equal(["2"], (await client.ExpectAsync("RDY")).Args); // max-in-flight lowered to -n
        await client.SendMessageAsync("0000000000000001", 1, "hello");
        await client.SendMessageAsync("0000000000000002", 1, "world");
        await client.ExpectAsync("FIN");
        await client.ExpectAsync("FIN");
        await client.ExpectAsync("CLS");
        await client.SendResponseAsync("CLOSE_WAIT");
        Assert.Equal(0, await run.WaitAsync(Wait));
        Assert.Equal("events | hello\nevents | world\n", Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public async Task Nsq_tail_validates_its_flags()
    {
        var errors = new StringWriter();
        Assert.Equal(1, await new TailApp(new TailOptions(), Stream.Null, errors).RunAsync(default));
        Assert.Equal(1, await new TailApp(new TailOptions { Topics = ["t"] }, Stream.Null, errors).RunAsync(default));
        Assert.Equal(1, await new TailApp(new TailOptions { Topics = ["t"], NsqdTcpAddresses = ["a:1"], LookupdHttpAddresses = ["b:2"] }, Stream.Null, errors).RunAsync(default));
        Assert.Equal(1, await new TailApp(new TailOptions { Topics = ["t"], NsqdTcpAddresses = ["a:1"], ConsumerOptions = ["nope,1"] }, Stream.Null, errors).RunAsync(default));
        Assert.Equal(
            "--topic is required\n--nsqd-tcp-address or --lookupd-http-address required\nuse --nsqd-tcp-address or --lookupd-http-address not both\ninvalid option nope (Parameter 'option')\n",
            errors.ToString().Replace("\r", ""));
    }
}
