using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Common.Tests.Testing;

/// <summary>
/// A server placed by a <see cref="ServerPlacement"/> (the chaos harness's namespaces use it; here on loopback, which
/// needs no root): fixed ports instead of free ones, its output appended to a file across restarts, its data on a path
/// of the caller's that stays.
/// </summary>
public sealed class ServerPlacementTests
{
    [EtcdFact(Timeout = 60_000)]
    public async Task FixedPortsAndAnOutputFileThatOutlivesRestarts()
    {
        using var dir = new TempDirectory("placement");
        int[] ports = [FreePort.Next(), FreePort.Next()];
        var log = Path.Combine(dir.Path, "etcd.log");
        var data = Path.Combine(dir.Path, "data");
        string firstPid;
        await using (var etcd = await EtcdProcess.StartAsync([], new ServerPlacement { Ports = ports, OutputFile = log }, data))
        {
            Assert.Equal(ports, etcd.Server.Ports);
            Assert.Equal(1, etcd.Server.Attempts);
            Assert.Equal("127.0.0.1", etcd.Host);
            Assert.Equal($"http://127.0.0.1:{ports[0]}", etcd.ClientUrl);
            firstPid = etcd.Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

            etcd.Kill9();
            await etcd.RestartAsync();
            Assert.Equal(ports, etcd.Server.Ports);
        }

        var lines = File.ReadAllLines(log);
        Assert.Equal(2, lines.Count(l => l.StartsWith("=== ", StringComparison.Ordinal) && l.Contains(" pid ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.Contains($"pid {firstPid}:", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("etcd", StringComparison.Ordinal) && !l.StartsWith("===", StringComparison.Ordinal));
        Assert.True(Directory.Exists(data), "a data path of the caller's stays after dispose");
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task AFixedPortTakenFailsAtOnceInsteadOfMovingElsewhere()
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        var taken = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        using var dir = new TempDirectory("placement");

        var failed = await Assert.ThrowsAsync<ServerExitedException>(() =>
            EtcdProcess.StartAsync([], new ServerPlacement { Ports = [taken, FreePort.Next()] }, dir.Path));
        Assert.Contains("address already in use", failed.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void ANamespaceWrapsTheCommandInIpNetnsExec()
    {
        var (plainFile, plainArgs) = ServerPlacement.Loopback.Wrap("nsqd", ["-a"]);
        Assert.Equal("nsqd", plainFile);
        Assert.Equal(["-a"], plainArgs);
        var (file, args) = new ServerPlacement { NetworkNamespace = "ns1" }.Wrap("/bin/nsqd", ["-a", "b"]);
        Assert.Equal(ServerPlacement.IpCommand, file);
        Assert.Equal(["netns", "exec", "ns1", "/bin/nsqd", "-a", "b"], args);
    }
}
