using System.Buffers.Binary;
using System.Text.Json;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

/// <summary>TCP protocol V1 as upstream nsqd speaks it, and every error path closing the connection.</summary>
public sealed class TcpProtocolTests
{
    private const int T = 30_000;

    [Fact(Timeout = T)]
    public async Task IdentifyReturnsLookupdInfoAndRegistersClient()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        var response = await client.IdentifyAsync(V1Client.IdentifyJson("10.0.0.1", 4150, 4151));

        using var doc = JsonDocument.Parse(response);
        var root = doc.RootElement;
        Assert.Equal("127.0.0.1", root.GetProperty("broadcast_address").GetString());
        Assert.Equal("lookupd-test", root.GetProperty("hostname").GetString());
        Assert.Equal(lookupd.Lookupd.HttpPort, root.GetProperty("http_port").GetInt32());
        Assert.Equal(lookupd.TcpPort, root.GetProperty("tcp_port").GetInt32());
        Assert.Equal("1.3.0", root.GetProperty("version").GetString());

        var nodes = lookupd.Db.GetNodes();
        var node = Assert.Single(nodes);
        Assert.Equal("10.0.0.1", node.Peer.BroadcastAddress);
        Assert.Empty(node.Topics);
    }

    [Fact(Timeout = T)]
    public async Task RegisterUnregisterAndPingAnswerOk()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectProducerAsync();
        var registry = lookupd.Db;

        Assert.Equal("OK", await client.CommandAsync("REGISTER orders"));
        Assert.Equal("OK", await client.CommandAsync("REGISTER orders billing"));
        Assert.Equal("OK", await client.CommandAsync("PING"));
        Assert.Equal(["orders"], registry.GetTopics());
        Assert.Equal(["billing"], registry.GetChannels("orders"));
        Assert.Single(registry.GetActiveProducers("orders"));

        Assert.Equal("OK", await client.CommandAsync("UNREGISTER orders billing"));
        Assert.Equal(["billing"], registry.GetChannels("orders")); // non-ephemeral keys stay
        Assert.Equal("OK", await client.CommandAsync("UNREGISTER orders"));
        Assert.Empty(registry.GetActiveProducers("orders"));
        Assert.Equal(["orders"], registry.GetTopics());
    }

    [Fact(Timeout = T)]
    public async Task ToleratesSurroundingWhitespaceAndCarriageReturn()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectProducerAsync();
        Assert.Equal("OK", await client.CommandAsync("  REGISTER spaced chan\r"));
        Assert.Equal(["chan"], lookupd.Db.GetChannels("spaced"));
    }

    [Fact(Timeout = T)]
    public async Task PingBeforeIdentifyIsAccepted()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        Assert.Equal("OK", await client.CommandAsync("PING"));
        Assert.Equal("OK", await client.CommandAsync("PING"));
    }

    [Fact(Timeout = T)]
    public async Task DisconnectRemovesRegistrationsButKeepsKeys()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        var registry = lookupd.Db;
        var client = await lookupd.ConnectProducerAsync();
        await client.CommandAsync("REGISTER t1 c1");
        await client.CommandAsync("REGISTER t2");
        Assert.Single(registry.GetNodes());

        await client.DisposeAsync();

        await Wait.UntilAsync(() => registry.GetNodes().Count == 0, "node to vanish");
        Assert.Empty(registry.GetActiveProducers("t1"));
        Assert.Equal(["t1", "t2"], registry.GetTopics());
        Assert.Equal(["c1"], registry.GetChannels("t1"));
    }

    [Fact(Timeout = T)]
    public async Task EphemeralKeysGoWithTheirLastProducer()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        var registry = lookupd.Db;
        await using var a = await lookupd.ConnectProducerAsync(4150, 4151);
        var b = await lookupd.ConnectProducerAsync(5150, 5151);

        await a.CommandAsync("REGISTER t ch#ephemeral");
        await b.CommandAsync("REGISTER t ch#ephemeral");
        await a.CommandAsync("UNREGISTER t ch#ephemeral");
        Assert.Equal(["ch#ephemeral"], registry.GetChannels("t")); // b still has it

        await b.CommandAsync("UNREGISTER t ch#ephemeral");
        Assert.Empty(registry.GetChannels("t"));

        // An ephemeral topic goes on UNREGISTER and on disconnect of its last producer.
        await a.CommandAsync("REGISTER gone#ephemeral");
        await a.CommandAsync("UNREGISTER gone#ephemeral");
        Assert.DoesNotContain("gone#ephemeral", registry.GetTopics());

        await b.CommandAsync("REGISTER temp#ephemeral eph#ephemeral");
        await b.DisposeAsync();
        await Wait.UntilAsync(() => !registry.GetTopics().Contains("temp#ephemeral"), "ephemeral topic to vanish");
        Assert.Empty(registry.GetChannels("temp#ephemeral"));
        Assert.Contains("t", registry.GetTopics());
    }

    [Fact(Timeout = T)]
    public async Task TopicUnregisterAlsoRemovesItsChannels()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        var registry = lookupd.Db;
        await using var client = await lookupd.ConnectProducerAsync();
        await client.CommandAsync("REGISTER t c1");
        await client.CommandAsync("REGISTER t c2");
        Assert.Equal("OK", await client.CommandAsync("UNREGISTER t"));

        var debug = registry.GetDebugEntries();
        Assert.DoesNotContain(debug, e => e.Key.Category == "channel" || e.Key.Category == "topic");
        Assert.Equal(["c1", "c2"], registry.GetChannels("t"));
    }

    [Fact(Timeout = T)]
    public async Task IdentifyKeysMatchCaseInsensitivelyAndUnknownKeysAreIgnored()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        var response = await client.IdentifyAsync(
            """{"BROADCAST_ADDRESS":"h","Tcp_Port":1,"http_port":2,"version":"x","extra":{"a":[1,2]},"hostname":null,"topology_zone":"z1"}""");
        Assert.StartsWith("{", response);
        var peer = Assert.Single(lookupd.Db.GetNodes()).Peer;
        Assert.Equal("h", peer.BroadcastAddress);
        Assert.Equal(1, peer.TcpPort);
        Assert.Equal("z1", peer.TopologyZone);
        Assert.Equal("", peer.Hostname);
    }

    public static TheoryData<string, string> BadCommands => new()
    {
        { "BOGUS", "E_INVALID invalid command BOGUS" },
        { "", "E_INVALID invalid command " },
        { "register t", "E_INVALID invalid command register" },
        { "REGISTER", "E_INVALID client must IDENTIFY" },
        { "UNREGISTER t", "E_INVALID client must IDENTIFY" },
    };

    [Theory(Timeout = T)]
    [MemberData(nameof(BadCommands))]
    public async Task BadCommandsBeforeIdentifyGetUpstreamErrorsAndClose(string line, string expected)
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
        Assert.True(await client.IsClosedByServerAsync());
    }

    public static TheoryData<string, string> BadParams => new()
    {
        { "REGISTER", "E_INVALID REGISTER insufficient number of params" },
        { "UNREGISTER", "E_INVALID UNREGISTER insufficient number of params" },
        { "REGISTER bad!topic", "E_BAD_TOPIC REGISTER topic name 'bad!topic' is not valid" },
        { "REGISTER  t", "E_BAD_TOPIC REGISTER topic name '' is not valid" },
        { "REGISTER " + new string('a', 65), "E_BAD_TOPIC REGISTER topic name '" + new string('a', 65) + "' is not valid" },
        { "UNREGISTER t bad/channel", "E_BAD_CHANNEL UNREGISTER channel name 'bad/channel' is not valid" },
        { "REGISTER t #ephemeral", "E_BAD_CHANNEL REGISTER channel name '#ephemeral' is not valid" },
    };

    [Theory(Timeout = T)]
    [MemberData(nameof(BadParams))]
    public async Task BadNamesAndParamsGetUpstreamErrorsAndClose(string line, string expected)
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectProducerAsync();
        Assert.Equal(expected, await client.CommandAsync(line));
        Assert.True(await client.IsClosedByServerAsync());
        await Wait.UntilAsync(() => lookupd.Db.GetNodes().Count == 0, "peer removal");
    }

    [Fact(Timeout = T)]
    public async Task BadMagicGetsBadProtocol()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendAsync("  V2");
        Assert.Equal("E_BAD_PROTOCOL", await client.ReadResponseAsync());
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact(Timeout = T)]
    public async Task IdentifyTwiceIsRefused()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectProducerAsync();
        Assert.Equal("E_INVALID cannot IDENTIFY again", await client.IdentifyAsync(V1Client.IdentifyJson("h", 1, 2)));
        Assert.True(await client.IsClosedByServerAsync());
    }

    public static TheoryData<string> BadBodies => new()
    {
        "not json",
        "[1,2]",
        "\"str\"",
        """{"broadcast_address":"h","tcp_port":"4150","http_port":2,"version":"v"}""",
        """{"broadcast_address":"h","tcp_port":4150.5,"http_port":2,"version":"v"}""",
        """{"broadcast_address":5,"tcp_port":1,"http_port":2,"version":"v"}""",
        """{"broadcast_address":"h","tcp_port":1,"http_port":2,"version":"v"} trailing""",
        """{"broadcast_address":"h","tcp_port":1,"http_port":2,"version":"v"}{}""",
        "{",
    };

    [Theory(Timeout = T)]
    [MemberData(nameof(BadBodies))]
    public async Task UndecodableIdentifyBodies(string body)
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        Assert.Equal("E_BAD_BODY IDENTIFY failed to decode JSON body", await client.IdentifyAsync(body));
        Assert.True(await client.IsClosedByServerAsync());
    }

    public static TheoryData<string> IncompleteBodies => new()
    {
        "{}",
        "null",
        """{"tcp_port":1,"http_port":2,"version":"v"}""",
        """{"broadcast_address":"h","http_port":2,"version":"v"}""",
        """{"broadcast_address":"h","tcp_port":1,"version":"v"}""",
        """{"broadcast_address":"h","tcp_port":1,"http_port":2}""",
        """{"broadcast_address":"","tcp_port":1,"http_port":2,"version":"v"}""",
    };

    [Theory(Timeout = T)]
    [MemberData(nameof(IncompleteBodies))]
    public async Task IdentifyWithMissingFields(string body)
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        Assert.Equal("E_BAD_BODY IDENTIFY missing fields", await client.IdentifyAsync(body));
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(lookupd.Db.GetNodes());
    }

    [Fact(Timeout = T)]
    public async Task IdentifyBodySizeIsBounded()
    {
        await using var lookupd = await TestLookupd.StartAsync(o => o.MaxIdentifyBodySize = 1024);
        await using var client = await lookupd.ConnectAsync();
        await client.SendMagicAsync();
        var frame = new byte[13];
        "IDENTIFY\n"u8.CopyTo(frame);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(9), 1025);
        await client.SendAsync(frame);
        Assert.Equal("E_BAD_BODY IDENTIFY body too big 1025 > 1024", await client.ReadResponseAsync());
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact(Timeout = T)]
    public async Task NegativeAndZeroIdentifySizes()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using (var client = await lookupd.ConnectAsync())
        {
            await client.SendMagicAsync();
            await client.SendAsync([.. "IDENTIFY\n"u8, 0xFF, 0xFF, 0xFF, 0xFF]);
            Assert.Equal("E_BAD_BODY IDENTIFY invalid body size -1", await client.ReadResponseAsync());
            Assert.True(await client.IsClosedByServerAsync());
        }

        await using (var client = await lookupd.ConnectAsync())
        {
            await client.SendMagicAsync();
            await client.SendAsync([.. "IDENTIFY\n"u8, 0, 0, 0, 0]);
            Assert.Equal("E_BAD_BODY IDENTIFY failed to decode JSON body", await client.ReadResponseAsync());
        }
    }

    [Fact(Timeout = T)]
    public async Task TruncatedIdentifyIsHandled()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using (var client = await lookupd.ConnectAsync())
        {
            await client.SendMagicAsync();
            await client.SendAsync([.. "IDENTIFY\n"u8, 0, 0, 0, 50, (byte)'{']);
            await client.DisposeAsync(); // EOF mid-body
        }

        await using var healthy = await lookupd.ConnectProducerAsync();
        Assert.Equal("OK", await healthy.CommandAsync("PING"));
    }

    [Fact(Timeout = T)]
    public async Task OverlongCommandLineIsRefused()
    {
        await using var lookupd = await TestLookupd.StartAsync(o => o.MaxCommandLineLength = 256);
        await using var client = await lookupd.ConnectProducerAsync();
        await client.SendAsync(new string('x', 1000)); // no newline: must not buffer forever
        Assert.Equal("E_INVALID command line too long", await client.ReadResponseAsync());
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact(Timeout = T)]
    public async Task IdleConnectionsAreClosed()
    {
        await using var lookupd = await TestLookupd.StartAsync(o =>
        {
            o.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
            o.ClientIdleTimeout = TimeSpan.FromMilliseconds(500);
        });
        await using (var silent = await lookupd.ConnectAsync())
        {
            Assert.True(await silent.IsClosedByServerAsync());
        }

        var client = await lookupd.ConnectProducerAsync();
        await client.CommandAsync("REGISTER idle");
        Assert.True(await client.IsClosedByServerAsync());
        await Wait.UntilAsync(() => lookupd.Db.GetNodes().Count == 0, "idle peer removal");
        await client.DisposeAsync();
    }

    [Fact(Timeout = T)]
    public async Task GarbageNeverTakesTheServerDown()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        var random = new Random(42);
        for (var i = 0; i < 30; i++)
        {
            await using var client = await lookupd.ConnectAsync();
            var junk = new byte[random.Next(1, 512)];
            random.NextBytes(junk);
            if (i % 2 == 0)
            {
                junk = [.. "  V1"u8, .. junk];
            }

            try
            {
                await client.SendAsync(junk);
            }
            catch (IOException)
            {
            }
        }

        await using var healthy = await lookupd.ConnectProducerAsync();
        Assert.Equal("OK", await healthy.CommandAsync("REGISTER still_alive"));
        var ping = await lookupd.Http.GetStringAsync("/ping");
        Assert.Equal("OK", ping);
    }

    [Fact(Timeout = T)]
    public async Task SameTopicFromTwoNodesListsBothProducers()
    {
        await using var lookupd = await TestLookupd.StartAsync();
        await using var a = await lookupd.ConnectProducerAsync(4150, 4151);
        await using var b = await lookupd.ConnectProducerAsync(5150, 5151);
        await a.CommandAsync("REGISTER shared");
        await b.CommandAsync("REGISTER shared ch");
        var producers = lookupd.Db.GetActiveProducers("shared");
        Assert.Equal(2, producers.Count);
        Assert.Contains(producers, p => p.TcpPort == 4150);
        Assert.Contains(producers, p => p.TcpPort == 5150);
    }
}
