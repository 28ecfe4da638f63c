using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd.Lookup;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Lookup;

/// <summary>The nsqd side of discovery against a real nsqlookupd process.</summary>
public sealed class LookupRegistrarTests
{
    private const int T = 90_000;

    private static readonly LookupRegistrarOptions FastOptions = new()
    {
        PingInterval = TimeSpan.FromMilliseconds(200),
        ReconnectDelayMin = TimeSpan.FromMilliseconds(50),
        ReconnectDelayMax = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A stand-in for the broker's topic map.</summary>
    private sealed class FakeBroker
    {
        public ConcurrentDictionary<(string Topic, string? Channel), bool> Items { get; } = new();

        public IReadOnlyList<(string Topic, string? Channel)> Snapshot()
        {
            var result = new List<(string, string?)>();
            foreach (var key in Items.Keys)
            {
                result.Add(key);
            }

            return result;
        }
    }

    private static NodeIdentity Node(int tcpPort = 4150, int httpPort = 4151) =>
        new("127.0.0.1", tcpPort, httpPort, "test-host", "1.3.0");

    private static LookupRegistrar NewRegistrar(FakeBroker broker, params string[] addresses) =>
        new(Node(), addresses, broker.Snapshot, NullLogger.Instance, FastOptions);

    [Fact(Timeout = T)]
    public async Task RegistersSnapshotAndFollowsTopicAndChannelChanges()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        broker.Items[("existing", null)] = true;
        broker.Items[("withchan", "c1")] = true;
        await using var registrar = NewRegistrar(broker, lookupd.TcpAddress);
        registrar.Start();

        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("existing")).Count == 1, "snapshot topic");
        await Eventually.TrueAsync(async () => (await lookupd.ChannelsAsync("withchan")).Contains("c1"), "snapshot channel");
        Assert.True(registrar.Peers[0].Connected);
        Assert.Equal($"127.0.0.1:{lookupd.HttpPort}", registrar.Peers[0].HttpAddress);

        registrar.TopicCreated("fresh");
        registrar.ChannelCreated("fresh", "ch");
        registrar.ChannelCreated("fresh", "tmp#ephemeral");
        await Eventually.TrueAsync(async () => (await lookupd.ChannelsAsync("fresh")).Count == 2, "new channels");
        Assert.Equal([4150], await lookupd.ProducerPortsAsync("fresh"));

        registrar.ChannelDeleted("fresh", "tmp#ephemeral");
        await Eventually.TrueAsync(async () => !(await lookupd.ChannelsAsync("fresh")).Contains("tmp#ephemeral"), "ephemeral channel gone");

        registrar.TopicDeleted("fresh");
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("fresh")).Count == 0, "topic unregistered");
    }

    [Fact(Timeout = T)]
    public async Task ReRegistersEverythingAfterLookupdRestart()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        broker.Items[("t1", "c1")] = true;
        // PINGs far apart: a dropped connection must be noticed while idle, not at the next PING.
        var options = new LookupRegistrarOptions
        {
            PingInterval = TimeSpan.FromMinutes(5),
            ReconnectDelayMin = TimeSpan.FromMilliseconds(50),
            ReconnectDelayMax = TimeSpan.FromMilliseconds(500),
        };
        await using var registrar = new LookupRegistrar(Node(), [lookupd.TcpAddress], broker.Snapshot, NullLogger.Instance, options);
        registrar.Start();
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("t1")).Count == 1, "first registration");

        lookupd.Kill9();
        await Eventually.TrueAsync(() => Task.FromResult(!registrar.Peers[0].Connected), "disconnect noticed", seconds: 5);
        broker.Items[("t2", null)] = true; // created while the lookupd was down, and not announced
        await lookupd.RestartAsync();

        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("t1")).Count == 1, "t1 re-registered");
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("t2")).Count == 1, "t2 registered from snapshot");
        Assert.Equal(["c1"], await lookupd.ChannelsAsync("t1"));
        Assert.True(registrar.Peers[0].Connected);
    }

    [Fact(Timeout = T)]
    public async Task PingsKeepTheNodeActive()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync("-inactive-producer-timeout=1s");
        var broker = new FakeBroker();
        broker.Items[("alive", null)] = true;
        await using var registrar = NewRegistrar(broker, lookupd.TcpAddress);
        registrar.Start();
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("alive")).Count == 1, "registration");

        // Well past the inactivity timeout, PINGs every 200 ms keep us listed.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(2.5))
        {
            Assert.Single(await lookupd.ProducerPortsAsync("alive"));
            await Task.Delay(250);
        }
    }

    [Fact(Timeout = T)]
    public async Task KnownChannelsComeFromEveryLookupdMinusEphemeral()
    {
        using var a = await NsqlookupdProcess.StartAsync();
        using var b = await NsqlookupdProcess.StartAsync();
        await a.PostAsync("/channel/create?topic=orders&channel=billing");
        await a.PostAsync("/channel/create?topic=orders&channel=tail%23ephemeral");
        await b.PostAsync("/channel/create?topic=orders&channel=audit");
        await b.PostAsync("/channel/create?topic=orders&channel=billing");

        var broker = new FakeBroker();
        await using var registrar = NewRegistrar(broker, a.TcpAddress, b.TcpAddress);
        Assert.Empty(await registrar.GetKnownChannelsAsync("orders", CancellationToken.None)); // not connected yet
        registrar.Start();
        await Eventually.TrueAsync(() => Task.FromResult(registrar.Peers.All(p => p.Connected)), "both connected");

        var channels = (await registrar.GetKnownChannelsAsync("orders", CancellationToken.None)).ToList();
        channels.Sort(StringComparer.Ordinal);
        Assert.Equal(["audit", "billing"], channels);
        Assert.Empty(await registrar.GetKnownChannelsAsync("unknown", CancellationToken.None));

        // A dead lookupd does not hold the answer up (the query has a short timeout of its own; the bound here only
        // catches a hang) and the live one still answers.
        b.Kill9();
        var remaining = await registrar.GetKnownChannelsAsync("orders", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("billing", remaining);
    }

    [Fact(Timeout = T)]
    public async Task SetAddressesConnectsNewAndDropsRemoved()
    {
        using var a = await NsqlookupdProcess.StartAsync();
        using var b = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        broker.Items[("moving", null)] = true;
        await using var registrar = NewRegistrar(broker, a.TcpAddress);
        registrar.Start();
        await Eventually.TrueAsync(async () => await a.NodeCountAsync() == 1, "registered with a");

        registrar.SetAddresses([b.TcpAddress, b.TcpAddress]);
        Assert.Equal([b.TcpAddress], registrar.Addresses);
        await Eventually.TrueAsync(async () => await b.NodeCountAsync() == 1, "registered with b");
        await Eventually.TrueAsync(async () => await a.NodeCountAsync() == 0, "dropped from a");
        // The node shows once identified; its topics follow in the REGISTER commands after that.
        await Eventually.TrueAsync(async () => (await b.ProducerPortsAsync("moving")).SequenceEqual([4150]), "topic registered with b");
    }

    [Fact(Timeout = T)]
    public async Task QueueOverflowFallsBackToFullReRegistration()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        var options = new LookupRegistrarOptions
        {
            MaxQueuedCommands = 5,
            PingInterval = TimeSpan.FromMilliseconds(200),
            ReconnectDelayMin = TimeSpan.FromMilliseconds(50),
        };
        await using var registrar = new LookupRegistrar(Node(), [lookupd.TcpAddress], broker.Snapshot, NullLogger.Instance, options);
        for (var i = 0; i < 100; i++)
        {
            broker.Items[($"t{i}", null)] = true;
            registrar.TopicCreated($"t{i}"); // never blocks, even with nobody draining the queue
        }

        registrar.Start();
        await Eventually.TrueAsync(async () =>
        {
            using var doc = await lookupd.GetJsonAsync("/topics");
            return doc.RootElement.GetProperty("topics").GetArrayLength() == 100;
        }, "all 100 topics");
    }

    [Fact(Timeout = T)]
    public async Task InvalidNamesAndAddressesNeverBreakRegistration()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        broker.Items[("bad name!", null)] = true;
        broker.Items[("good", "bad/channel")] = true;
        broker.Items[("ok", null)] = true;
        await using var registrar = NewRegistrar(broker, lookupd.TcpAddress, "not-an-address", "127.0.0.1:1");
        registrar.Start();
        registrar.TopicCreated("also bad");
        registrar.TopicCreated("later");
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("later")).Count == 1, "valid topic");
        Assert.Single(await lookupd.ProducerPortsAsync("ok"));
        Assert.True(registrar.Peers[0].Connected);
        Assert.False(registrar.Peers[1].Connected);
        Assert.False(registrar.Peers[2].Connected);
    }

    [Fact(Timeout = T)]
    public async Task DisposeUnregistersByClosingTheConnection()
    {
        using var lookupd = await NsqlookupdProcess.StartAsync();
        var broker = new FakeBroker();
        broker.Items[("bye", null)] = true;
        var registrar = NewRegistrar(broker, lookupd.TcpAddress);
        registrar.Start();
        await Eventually.TrueAsync(async () => (await lookupd.ProducerPortsAsync("bye")).Count == 1, "registration");
        await registrar.DisposeAsync();
        await Eventually.TrueAsync(async () => await lookupd.NodeCountAsync() == 0, "node removed");
        registrar.TopicCreated("after-dispose"); // must not throw
    }

    [Fact]
    public void IdentifyFrameMatchesUpstreamNsqd()
    {
        var frame = LookupConnection.BuildIdentify(Node(4150, 4151) with { TopologyZone = "z" });
        var text = System.Text.Encoding.UTF8.GetString(frame, 13, frame.Length - 13);
        Assert.Equal("IDENTIFY\n", System.Text.Encoding.ASCII.GetString(frame, 0, 9));
        Assert.Equal(frame.Length - 13, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(9)));
        Assert.Equal(
            """{"broadcast_address":"127.0.0.1","hostname":"test-host","http_port":4151,"tcp_port":4150,"topology_region":"","topology_zone":"z","version":"1.3.0"}""",
            text);
        Assert.Equal("REGISTER t c\n", System.Text.Encoding.ASCII.GetString(LookupCommand.Register("t", "c").ToBytes()));
        Assert.Equal("UNREGISTER t\n", System.Text.Encoding.ASCII.GetString(LookupCommand.Unregister("t", null).ToBytes()));
    }
}
