using NsqSharp.Chaos.Lab;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>
/// The parent side of a run: lab made, the child run inside the client namespace with --in-lab and the original
/// arguments, its exit code returned, a stop forwarded, and the lab torn down however the child ended. The child here
/// is a bash script (nsq_chaos's own child mode belongs to Program.cs).
/// </summary>
public sealed class LabSessionTests
{
    private const int T = 60_000;
    private const string Prefix = "nsqct-session-";

    [LabFact(Timeout = T)]
    public async Task RunsTheChildInTheClientNamespaceAndReturnsItsExitCode()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-session");
        var code = await LabSession.RunInLabAsync(["--scenario", "x"], Options(outDir.Path, """
            ip netns identify $$ > "$OUT/ns"
            ip -o -4 addr show dev eth0 > "$OUT/addr"
            printf '%s\n' "$@" > "$OUT/args"
            exit 7
            """));

        Assert.Equal(7, code);
        Assert.Equal(Prefix + "client", File.ReadAllText(Path.Combine(outDir.Path, "ns")).Trim());
        Assert.Contains("10.213.7.2/24", File.ReadAllText(Path.Combine(outDir.Path, "addr")), StringComparison.Ordinal);
        var args = File.ReadAllLines(Path.Combine(outDir.Path, "args"));
        Assert.Equal([$"--in-lab={Path.Combine(outDir.Path, "lab.json")}", "--scenario", "x"], args);
        Assert.True(LabSession.TryGetDescriptionPath(args, out var path, out var rest));
        Assert.Equal(["--scenario", "x"], rest);
        var description = LabDescription.Load(path);
        Assert.Equal(LabMode.Namespaces, description.Mode);
        Assert.Equal(Prefix + "client", description.ClientNamespace);
        Assert.Empty(await NetworkLab.ListNamespacesAsync(Prefix));
    }

    [LabFact(Timeout = T)]
    public async Task TheChildStartsAMemberInItsNamespaceAndReachesItDirectly()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-session");
        // As the chaos child does: from inside the client namespace, `ip netns exec` a server into a member's, then
        // talk to it on its lab address with a plain socket (bash's /dev/tcp: GET /ping).
        var code = await LabSession.RunInLabAsync([], Options(outDir.Path, $$"""
            ip netns exec nsqct-session-n1 '{{RepoPaths.Executable("nsqlookupd")}}' --tcp-address=10.213.7.11:4160 --http-address=10.213.7.11:4161 --broadcast-address=10.213.7.11 > "$OUT/lookupd.log" 2>&1 &
            for i in $(seq 100); do
              if exec 3<>/dev/tcp/10.213.7.11/4161; then
                printf 'GET /ping HTTP/1.0\r\n\r\n' >&3
                cat <&3 > "$OUT/ping"
                ip netns identify $! > "$OUT/server-ns"
                exit 0
              fi 2>/dev/null
              sleep 0.1
            done
            exit 1
            """, members: ["n1"]));

        Assert.Equal(0, code);
        Assert.Contains("OK", File.ReadAllText(Path.Combine(outDir.Path, "ping")), StringComparison.Ordinal);
        Assert.Equal(Prefix + "n1", File.ReadAllText(Path.Combine(outDir.Path, "server-ns")).Trim());
        Assert.Empty(await NetworkLab.ListNamespacesAsync(Prefix)); // the server left running was killed by the teardown
    }

    [LabFact(Timeout = T)]
    public async Task AStopIsForwardedAndTheLabTornDownAfter()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-session");
        using var stop = new CancellationTokenSource();
        var run = LabSession.RunInLabAsync([], Options(outDir.Path, """
            trap 'echo stopped > "$OUT/term"; exit 42' TERM
            touch "$OUT/ready"
            while true; do sleep 0.05; done
            """), stop.Token);
        await WaitForFileAsync(Path.Combine(outDir.Path, "ready"), run);
        Assert.NotEmpty(await NetworkLab.ListNamespacesAsync(Prefix));

        await stop.CancelAsync();

        Assert.Equal(42, await run);
        Assert.Equal("stopped", File.ReadAllText(Path.Combine(outDir.Path, "term")).Trim());
        Assert.Empty(await NetworkLab.ListNamespacesAsync(Prefix));
    }

    [LabFact(Timeout = T)]
    public async Task AChildThatCrashesStillGetsTheLabTornDown()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-session");
        // It also leaves a process behind in a member namespace, as a crashed child would its servers.
        var code = await LabSession.RunInLabAsync([], Options(outDir.Path, """
            ip netns exec nsqct-session-n1 sleep 600 &
            sleep 0.3
            kill -9 $$
            """, members: ["n1"]));

        Assert.Equal(128 + 9, code);
        Assert.Empty(await NetworkLab.ListNamespacesAsync(Prefix));
    }

    [Fact(Timeout = T)]
    public async Task LoopbackOnlyRunsTheChildWithoutANamespace()
    {
        using var outDir = new TempDirectory("nsqct-session");
        var code = await LabSession.RunInLabAsync(["a"], Options(outDir.Path, """
            readlink /proc/$$/ns/net > "$OUT/ns"
            exit 3
            """) with { ForceLoopback = true, Prefix = "nsqct-loop-" });

        Assert.Equal(3, code);
        Assert.Equal(new FileInfo("/proc/self/ns/net").LinkTarget, File.ReadAllText(Path.Combine(outDir.Path, "ns")).Trim());
        var description = LabDescription.Load(Path.Combine(outDir.Path, "lab.json"));
        Assert.Equal(LabMode.Loopback, description.Mode);
        Assert.Equal("loopback forced", description.LoopbackReason);
        Assert.Empty(description.Members);
    }

    [Fact]
    public void TheChildFindsItsDescriptionInEitherForm()
    {
        Assert.True(LabSession.TryGetDescriptionPath(["-v", "--in-lab=/x/lab.json", "run"], out var path, out var rest));
        Assert.Equal("/x/lab.json", path);
        Assert.Equal(["-v", "run"], rest);
        Assert.True(LabSession.TryGetDescriptionPath(["--in-lab", "/y.json"], out path, out rest));
        Assert.Equal("/y.json", path);
        Assert.Empty(rest);
        Assert.False(LabSession.TryGetDescriptionPath(["run"], out _, out rest));
        Assert.Equal(["run"], rest);
    }

    [Fact]
    public void TheDescriptionRoundTrips()
    {
        var description = new LabDescription
        {
            Mode = LabMode.Namespaces,
            Prefix = "nsqchaos-",
            Subnet = "10.213.7.0/24",
            SwitchNamespace = "nsqchaos-switch",
            Members = [new LabMember { Name = "client", Namespace = "nsqchaos-client", Address = "10.213.7.2", SwitchPort = "p-client" }],
            NetemAvailable = false,
            NetemReason = "Error: Specified qdisc kind is unknown.",
            OutDir = "/out",
        };

        var back = LabDescription.FromJson(description.ToJson());

        Assert.Equal(description.Members, back.Members);
        Assert.Equal(description with { Members = back.Members }, back);
        Assert.Contains("\"mode\": \"Namespaces\"", description.ToJson(), StringComparison.Ordinal);
        Assert.Equal("nsqchaos-client", back.ClientNamespace);
        Assert.Throws<KeyNotFoundException>(() => back.Member("n1"));
        Assert.Throws<NotSupportedException>(() => new NetworkFaults(LabDescription.LoopbackOnly("nsqchaos-", "not root", "/out")));
    }

    private static LabSessionOptions Options(string outDir, string script, IReadOnlyList<string>? members = null) => new()
    {
        OutDir = outDir,
        Prefix = Prefix,
        Members = members ?? ["n1", "n2"],
        ForwardSignals = false,
        Log = null,
        StopGrace = TimeSpan.FromSeconds(10),
        ChildCommand = (description, args) => ("/bin/bash", ["-c", $"OUT='{outDir}'\n{script}", "child", $"{LabSession.InLabOption}={description}", .. args]),
    };

    private static async Task WaitForFileAsync(string path, Task run)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!File.Exists(path))
        {
            Assert.False(run.IsCompleted, "the child ended before it was ready");
            await Task.Delay(20, bound.Token);
        }
    }
}
