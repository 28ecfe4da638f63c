using NsqSharp.Chaos.Lab;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>
/// The lab's making and unmaking: namespaces and links with the prefix only, nothing in the host namespace, gone on
/// dispose and after a crashed run (the sweep), members reachable over TCP from each other and from the client.
/// </summary>
public sealed class NetworkLabTests
{
    private const int T = 60_000;
    private const string Prefix = "nsqct-lab-";

    [LabFact(Timeout = T)]
    public async Task CreatesTheNamespacesAndTearsThemDownLeavingNothing()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-lab");
        string[] before = [.. await HostAddressesAsync()];
        await using (var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = Prefix, Members = ["n1", "n2"], OutDir = outDir.Path }))
        {
            Assert.Equal(
                [Prefix + "client", Prefix + "n1", Prefix + "n2", Prefix + "switch"],
                (await NetworkLab.ListNamespacesAsync(Prefix)).Order(StringComparer.Ordinal));
            Assert.Equal(["n1", "n2", "client"], lab.Members.Select(m => m.Name));
            Assert.All(lab.Members, m => Assert.StartsWith("10.213.7.", m.Address, StringComparison.Ordinal));
            Assert.Equal("10.213.7.11", lab.Member("n1").Address);
            Assert.Equal("10.213.7.2", lab.Member("client").Address);

            // Nothing of the lab's in the host namespace: no link, no address of the lab's /24.
            Assert.Empty(await NetworkLab.HostLinksAsync(Prefix));
            Assert.Empty(await NetworkLab.HostLinksAsync("p-"));
            Assert.Equal(before, await HostAddressesAsync());
            Assert.DoesNotContain(await HostAddressesAsync(), a => a.StartsWith("10.213.7.", StringComparison.Ordinal));

            // The description and the command log are in the out dir, and every command is recorded.
            var saved = LabDescription.Load(Path.Combine(outDir.Path, "lab.json"));
            Assert.Equal(lab.Description.Members, saved.Members);
            Assert.Equal(LabMode.Namespaces, saved.Mode);
            Assert.Contains(lab.Shell.Commands, c => c.Command.Contains($"netns add {Prefix}n1", StringComparison.Ordinal));
            Assert.Contains($"netns add {Prefix}n1", await File.ReadAllTextAsync(Path.Combine(outDir.Path, "lab-commands.log")), StringComparison.Ordinal);

            // The chain the faults use, jumped to from INPUT, empty.
            var rules = await new LabShell().RunAsync("ip", "netns", "exec", Prefix + "n1", "iptables", "-w", "-S");
            Assert.Contains($"-A INPUT -j {NetworkLab.Chain}", rules.Output, StringComparison.Ordinal);
            Assert.Empty(await lab.Faults.ListRulesAsync("n1"));
        }

        Assert.Empty(await NetworkLab.ListNamespacesAsync(Prefix));
        Assert.Empty(await NetworkLab.HostLinksAsync(Prefix));
        Assert.Equal(before, await HostAddressesAsync());
    }

    [LabFact(Timeout = T)]
    public async Task TheSweepRemovesWhatACrashedRunLeft()
    {
        LabFactAttribute.RequireSupport();
        const string crashed = "nsqct-crash-";
        var shell = new LabShell();
        // A fake crashed run: its namespaces, a veth between two of them, and a process still running in one.
        await shell.RunAsync("ip", "netns", "add", crashed + "n1");
        await shell.RunAsync("ip", "netns", "add", crashed + "switch");
        await shell.RunAsync("ip", "-n", crashed + "n1", "link", "add", "eth0", "type", "veth", "peer", "name", "p-n1", "netns", crashed + "switch");
        using var straggler = ManagedProcess.Start("ip", ["netns", "exec", crashed + "n1", "sleep", "600"]);
        await WaitUntilAsync(async () => (await shell.RunAsync("ip", "netns", "pids", crashed + "n1")).Output.Trim().Length > 0);
        // Another run's namespace, which a sweep of this prefix must leave alone.
        await shell.RunAsync("ip", "netns", "add", "nsqct-other-n1");
        try
        {
            var removed = await NetworkLab.SweepAsync(crashed);

            Assert.Equal([$"netns {crashed}n1", $"netns {crashed}switch"], removed.Order(StringComparer.Ordinal));
            Assert.Empty(await NetworkLab.ListNamespacesAsync(crashed));
            await straggler.WaitForExitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(["nsqct-other-n1"], await NetworkLab.ListNamespacesAsync("nsqct-other-"));
            Assert.Empty(await NetworkLab.SweepAsync(crashed)); // idempotent
        }
        finally
        {
            await NetworkLab.SweepAsync("nsqct-other-");
            await NetworkLab.SweepAsync(crashed);
        }
    }

    [LabFact(Timeout = T)]
    public async Task CreatingALabSweepsTheLeftoversOfItsPrefixFirst()
    {
        LabFactAttribute.RequireSupport();
        const string prefix = "nsqct-resweep-";
        await new LabShell().RunAsync("ip", "netns", "add", prefix + "n9");
        await using (var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = prefix, Members = ["n1"] }))
        {
            Assert.Equal([$"netns {prefix}n9"], lab.Swept);
            Assert.DoesNotContain(prefix + "n9", await NetworkLab.ListNamespacesAsync(prefix));
        }

        Assert.Empty(await NetworkLab.ListNamespacesAsync(prefix));
    }

    [LabFact(Timeout = T)]
    public async Task OneLabPerPrefixAtATime()
    {
        LabFactAttribute.RequireSupport();
        const string prefix = "nsqct-lock-";
        await using var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = prefix, Members = ["n1"] });
        var second = await Assert.ThrowsAsync<InvalidOperationException>(() => NetworkLab.CreateAsync(new LabOptions { Prefix = prefix, Members = ["n1"] }));
        Assert.Contains("another lab", second.Message, StringComparison.Ordinal);
        Assert.Contains(prefix + "n1", await NetworkLab.ListNamespacesAsync(prefix)); // the first lab is untouched
    }

    [LabFact(Timeout = T)]
    public async Task MembersReachEachOtherAndTheClientReachesThemOverTcp()
    {
        LabFactAttribute.RequireSupport();
        await using var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = "nsqct-tcp-", Members = ["n1", "n2", "etcd"] });
        foreach (var (from, to) in new[] { ("n1", "n2"), ("n2", "n1"), ("client", "n1"), ("client", "etcd"), ("etcd", "n2"), ("n1", "client") })
        {
            Assert.True(await LabProbe.TcpAsync(lab, from, to, TimeSpan.FromSeconds(5)), $"{from} -> {to}");
        }

        // The host namespace has no route of the lab's (what a connection from it to a lab address meets is whatever
        // the host's default route leads to, not the lab).
        var routes = await new LabShell().RunAsync("ip", "route", "show");
        Assert.DoesNotContain("10.213.7.", routes.Output, StringComparison.Ordinal);
        // And bash's /dev/tcp inside a namespace works as a probe too.
        using var listener = LabProbe.In(lab, "n2").Listen(lab.Member("n2").Address, 0);
        var port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        var bash = await new LabShell().TryRunAsync("ip", ["netns", "exec", lab.Member("n1").Namespace, "bash", "-c", $"exec 3<>/dev/tcp/{lab.Member("n2").Address}/{port}"]);
        Assert.Equal(0, bash.ExitCode);
    }

    [Fact]
    public void NamesAreChecked()
    {
        Assert.Throws<ArgumentException>(() => NetworkLab.ValidatePrefix("nsqchaos"));
        Assert.Throws<ArgumentException>(() => NetworkLab.ValidatePrefix("Bad-"));
        NetworkLab.ValidatePrefix(NetworkLab.DefaultPrefix);
        Assert.Equal(["a", "nsqchaos-n1"], NetworkLab.ParseNamespaces("a\nnsqchaos-n1 (id: 3)\n"));
        Assert.Equal(["lo", "eth0", "p-n1"], NetworkLab.ParseLinks("1: lo: <LOOPBACK> mtu\n2: eth0: <UP> mtu\n3: p-n1@if2: <UP> mtu\n"));
    }

    private static async Task<IReadOnlyList<string>> HostAddressesAsync()
    {
        var addresses = await new LabShell().RunAsync("ip", "-o", "addr", "show");
        return [.. addresses.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 3)
            .Select(f => f[3])
            .Order(StringComparer.Ordinal)];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            await Task.Delay(20, bound.Token);
        }
    }
}
