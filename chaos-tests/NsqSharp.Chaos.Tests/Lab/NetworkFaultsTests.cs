using System.Diagnostics;
using System.Net.Sockets;
using NsqSharp.Chaos.Lab;
using Xunit;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>One lab (n1 n2 n3 client) for the fault tests, which run one after another and heal at the end.</summary>
public sealed class FaultLabFixture : IAsyncLifetime
{
    public NetworkLab? Lab { get; private set; }

    public async Task InitializeAsync()
    {
        if (LabFactAttribute.Supported)
        {
            Lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = "nsqct-faults-", Members = ["n1", "n2", "n3"] });
        }
    }

    public async Task DisposeAsync()
    {
        if (Lab != null)
        {
            await Lab.DisposeAsync();
        }
    }
}

/// <summary>
/// The fault primitives against real traffic between the lab's namespaces: TCP connections for the two-way faults,
/// UDP datagrams for the one-way ones (TCP needs both directions to connect at all).
/// </summary>
public sealed class NetworkFaultsTests(FaultLabFixture fixture) : IClassFixture<FaultLabFixture>
{
    private const int T = 60_000;

    private NetworkLab Lab
    {
        get
        {
            LabFactAttribute.RequireSupport();
            return fixture.Lab ?? throw new InvalidOperationException("no lab");
        }
    }

    private NetworkFaults Faults => Lab.Faults;

    [LabFact(Timeout = T)]
    public async Task IsolateBlocksBothWaysAndRejoinRestores()
    {
        try
        {
            await Faults.IsolateAsync("n1");
            var rules = await Faults.ListRulesAsync("n1");
            await Faults.IsolateAsync("n1"); // idempotent
            Assert.Equal(rules, await Faults.ListRulesAsync("n1"));
            Assert.Equal(3, rules.Count); // n2, n3 and the client
            Assert.Contains(rules, r => r.Contains($"-s {Lab.Member("n2").Address}/32 -i eth0 -j DROP", StringComparison.Ordinal));

            Assert.False(await LabProbe.TcpAsync(Lab, "n1", "n2"));
            Assert.False(await LabProbe.TcpAsync(Lab, "n2", "n1"));
            Assert.False(await LabProbe.TcpAsync(Lab, "client", "n1"));
            Assert.False(await LabProbe.UdpAsync(Lab, "n1", "n3"));
            Assert.True(await LabProbe.TcpAsync(Lab, "n2", "n3", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "client", "n2", TimeSpan.FromSeconds(5)));
            // Its own traffic on lo is never touched.
            Assert.True(await LabProbe.TcpAsync(Lab, "n1", "n1", TimeSpan.FromSeconds(5)));

            await Faults.RejoinAsync("n1");
            Assert.Empty(await Faults.ListRulesAsync("n1"));
            Assert.True(await LabProbe.TcpAsync(Lab, "n1", "n2", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "client", "n1", TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task IsolatingFromSomeLeavesTheOthers()
    {
        try
        {
            await Faults.IsolateAsync("n3", ["n1"]);
            Assert.False(await LabProbe.TcpAsync(Lab, "n1", "n3"));
            Assert.False(await LabProbe.TcpAsync(Lab, "n3", "n1"));
            Assert.True(await LabProbe.TcpAsync(Lab, "n3", "n2", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "client", "n3", TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task OneWayDropBlocksOnlyThatDirection()
    {
        try
        {
            await Faults.BlockAsync("n1", "n2");
            Assert.Equal([("n1", "n2")], Faults.Blocked);

            Assert.False(await LabProbe.UdpAsync(Lab, "n1", "n2"));
            Assert.True(await LabProbe.UdpAsync(Lab, "n2", "n1", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.UdpAsync(Lab, "n1", "n3", TimeSpan.FromSeconds(5)));
            // The drop is where the packets arrive: n1 itself sends without an error (as into a real partition).
            Assert.Empty(await Faults.ListRulesAsync("n1"));
            Assert.Single(await Faults.ListRulesAsync("n2"));
            using (var sender = LabProbe.In(Lab, "n1").BindUdp(Lab.Member("n1").Address, 0))
            {
                await sender.SendToAsync(new byte[] { 1 }, SocketFlags.None, new System.Net.IPEndPoint(System.Net.IPAddress.Parse(Lab.Member("n2").Address), 9));
            }

            await Faults.UnblockAsync("n1", "n2");
            Assert.Empty(Faults.Blocked);
            Assert.True(await LabProbe.UdpAsync(Lab, "n1", "n2", TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task PartitionIntoHalves()
    {
        try
        {
            var partition = await Faults.PartitionHalvesAsync(["n1", "n2", "n3"]);
            Assert.Equal(["n1", "n2"], partition.Majority);
            Assert.Equal(["n3"], partition.Minority);

            Assert.True(await LabProbe.TcpAsync(Lab, "n1", "n2", TimeSpan.FromSeconds(5)));
            Assert.False(await LabProbe.TcpAsync(Lab, "n1", "n3"));
            Assert.False(await LabProbe.TcpAsync(Lab, "n3", "n2"));
            // The client is on neither side: it reaches both.
            Assert.True(await LabProbe.TcpAsync(Lab, "client", "n3", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "client", "n1", TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await Faults.HealAsync();
        }

        Assert.True(await LabProbe.TcpAsync(Lab, "n3", "n1", TimeSpan.FromSeconds(5)));
    }

    [LabFact(Timeout = T)]
    public async Task ABridgeSeesBothSidesWhichDoNotSeeEachOther()
    {
        try
        {
            await Faults.IsolateAsync("n2"); // the bridge's own blocks go
            await Faults.BridgeAsync("n2", ["n1"], ["n3"]);

            Assert.True(await LabProbe.TcpAsync(Lab, "n1", "n2", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "n2", "n3", TimeSpan.FromSeconds(5)));
            Assert.True(await LabProbe.TcpAsync(Lab, "n3", "n2", TimeSpan.FromSeconds(5)));
            Assert.False(await LabProbe.TcpAsync(Lab, "n1", "n3"));
            Assert.False(await LabProbe.TcpAsync(Lab, "n3", "n1"));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task PacketLossDropsTheMembersTrafficBothWays()
    {
        try
        {
            await Faults.LossAsync("n1", 100);
            Assert.Contains(await Faults.ListRulesAsync("n1"), r => r.Contains("-m statistic --mode random --probability 1", StringComparison.Ordinal));
            Assert.False(await LabProbe.UdpAsync(Lab, "n2", "n1"));
            Assert.False(await LabProbe.UdpAsync(Lab, "n1", "n2"));
            Assert.True(await LabProbe.UdpAsync(Lab, "n2", "n3", TimeSpan.FromSeconds(5)));

            await Faults.LossAsync("n1", 30);
            var rules = await Faults.ListRulesAsync("n2");
            // iptables keeps the probability as a 32-bit fraction: 0.3 lists as 0.2999999998 or so.
            var lossRule = Assert.Single(rules);
            Assert.Contains($"-s {Lab.Member("n1").Address}/32", lossRule, StringComparison.Ordinal);
            var probability = double.Parse(lossRule.Split("--probability ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(probability, 0.299, 0.301);
            Assert.Contains("loss n1 30%", Faults.Describe(), StringComparison.Ordinal);

            await Faults.ClearLossAsync("n1");
            Assert.Empty(await Faults.ListRulesAsync("n1"));
            Assert.Empty(await Faults.ListRulesAsync("n2"));
            Assert.True(await LabProbe.UdpAsync(Lab, "n2", "n1", TimeSpan.FromSeconds(5)));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task ASlowLinkQueuesAtItsRate()
    {
        const int bytes = 200_000;
        try
        {
            await Faults.SlowAsync("n1", rateKbit: 800);
            await Faults.SlowAsync("n1", rateKbit: 800); // idempotent
            var qdisc = await Lab.Shell.RunAsync("ip", "netns", "exec", Lab.Member("n1").Namespace, "tc", "qdisc", "show", "dev", "eth0");
            Assert.Contains("tbf", qdisc.Output, StringComparison.Ordinal);

            // 200 kB at 800 kbit/s take 2 s; unshaped, milliseconds. A lower bound only: it cannot be faster.
            var slow = await TransferAsync("n2", "n1", bytes);
            Assert.True(slow > TimeSpan.FromSeconds(1.2), $"{bytes} bytes into the slow member took {slow}");
            var back = await TransferAsync("n1", "n2", bytes);
            Assert.True(back > TimeSpan.FromSeconds(1.2), $"{bytes} bytes out of the slow member took {back}");

            await Faults.ClearShapeAsync("n1");
            qdisc = await Lab.Shell.RunAsync("ip", "netns", "exec", Lab.Member("n1").Namespace, "tc", "qdisc", "show", "dev", "eth0");
            Assert.DoesNotContain("tbf", qdisc.Output, StringComparison.Ordinal);
            Assert.True(await TransferAsync("n2", "n1", bytes) < TimeSpan.FromSeconds(1.2));
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task DelaysNeedNetem()
    {
        try
        {
            if (!Faults.NetemAvailable)
            {
                var refused = await Assert.ThrowsAsync<NotSupportedException>(() => Faults.DelayAsync("n1", TimeSpan.FromMilliseconds(50)));
                Assert.Contains("netem", refused.Message, StringComparison.Ordinal);
                Assert.Empty(Faults.Shapes);
                Assert.False(string.IsNullOrEmpty(Lab.Description.NetemReason));
                return;
            }

            await Faults.DelayAsync("n1", TimeSpan.FromMilliseconds(100));
            var clock = Stopwatch.StartNew();
            Assert.True(await LabProbe.TcpAsync(Lab, "n2", "n1", TimeSpan.FromSeconds(5)));
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(150), $"a connect across a 100 ms delay each way took {clock.Elapsed}");
        }
        finally
        {
            await Faults.HealAsync();
        }
    }

    [LabFact(Timeout = T)]
    public async Task HealRemovesEveryFault()
    {
        await Faults.IsolateAsync("n1");
        await Faults.BlockAsync("n2", "n3");
        await Faults.LossAsync("n3", 50);
        await Faults.SlowAsync("n2", 1000);

        await Faults.HealAsync();
        await Faults.HealAsync(); // idempotent

        Assert.Equal("healthy", Faults.Describe());
        foreach (var member in Lab.Members)
        {
            Assert.Empty(await Faults.ListRulesAsync(member.Name));
        }

        var qdisc = await Lab.Shell.RunAsync("ip", "netns", "exec", Lab.Member("n2").Namespace, "tc", "qdisc", "show", "dev", "eth0");
        Assert.DoesNotContain("tbf", qdisc.Output, StringComparison.Ordinal);
        Assert.True(await LabProbe.TcpAsync(Lab, "n1", "n2", TimeSpan.FromSeconds(5)));
        Assert.True(await LabProbe.UdpAsync(Lab, "n2", "n3", TimeSpan.FromSeconds(5)));
    }

    /// <summary>Sends the bytes from one member to a listener of another; returns how long until all arrived.</summary>
    private async Task<TimeSpan> TransferAsync(string from, string to, int bytes)
    {
        var address = Lab.Member(to).Address;
        using var listener = LabProbe.In(Lab, to).Listen(address, 0);
        var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var clock = Stopwatch.StartNew();
        var receive = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptAsync(bound.Token);
            var buffer = new byte[64 * 1024];
            var total = 0;
            while (total < bytes)
            {
                var n = await accepted.ReceiveAsync(buffer, SocketFlags.None, bound.Token);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        });
        using (var sender = await LabProbe.In(Lab, from).ConnectTcpAsync(address, port, bound.Token))
        {
            var payload = new byte[bytes];
            var sent = 0;
            while (sent < bytes)
            {
                sent += await sender.SendAsync(payload.AsMemory(sent), SocketFlags.None, bound.Token);
            }

            Assert.Equal(bytes, await receive);
        }

        return clock.Elapsed;
    }
}
