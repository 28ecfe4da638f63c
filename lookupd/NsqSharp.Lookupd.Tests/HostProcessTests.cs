using System.Net.Http;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

/// <summary>The nsqlookupd executable: upstream flag spellings, config file, help/version, signals.</summary>
public sealed class HostProcessTests
{
    private const int T = 60_000;

    private static string Exe => RepoPaths.Executable("nsqlookupd");

    private static async Task<int> RunToExitAsync(params string[] args)
    {
        using var process = ManagedProcess.Start(Exe, args);
        await Wait.UntilAsync(() => process.HasExited, "nsqlookupd to exit", TimeSpan.FromSeconds(20));
        return process.ExitCode;
    }

    /// <summary>Output is captured asynchronously and may trail the exit.</summary>
    private static Task OutputContainsAsync(ManagedProcess process, string text) =>
        Wait.UntilAsync(() => process.Output.Contains(text, StringComparison.Ordinal), $"output to contain '{text}':\n{process.Output}");

    [Fact(Timeout = T)]
    public async Task AcceptsGoStyleSingleDashFlagsAndStopsOnSigterm()
    {
        var tcp = FreePort.Next();
        var http = FreePort.Next();
        using var process = ManagedProcess.Start(Exe,
        [
            "-tcp-address", $"127.0.0.1:{tcp}", $"-http-address=127.0.0.1:{http}", "-broadcast-address=127.0.0.1",
            "-verbose", "--inactive-producer-timeout", "10s", "-tombstone-lifetime=1m30s", "-log-level=debug",
        ]);
        await process.WaitForHttpAsync($"http://127.0.0.1:{http}/ping", TimeSpan.FromSeconds(20));

        await using (var client = await V1Client.ConnectAsync(tcp))
        {
            await client.SendMagicAsync();
            var identify = await client.IdentifyAsync(V1Client.IdentifyJson("127.0.0.1", 1, 2));
            Assert.Contains($"\"tcp_port\":{tcp}", identify);
            Assert.Contains($"\"http_port\":{http}", identify);
            Assert.Equal("OK", await client.CommandAsync("REGISTER proc_topic"));
        }

        Assert.True(process.Terminate(TimeSpan.FromSeconds(15)), "graceful exit on SIGTERM");
        Assert.Equal(0, process.ExitCode);
        await OutputContainsAsync(process, "INFO: TCP: listening on 127.0.0.1:" + tcp);
        Assert.Contains("[nsqlookupd] ", process.Output);
    }

    [Fact(Timeout = T)]
    public async Task ReadsConfigFileWithFlagsTakingPrecedence()
    {
        using var dir = new TempDirectory();
        var http = FreePort.Next();
        var tcp = FreePort.Next();
        var config = Path.Combine(dir.Path, "nsqlookupd.cfg");
        await File.WriteAllTextAsync(config, $"""
            ## log verbosity level
            log_level = "info"
            tcp_address = "127.0.0.1:{tcp}"
            http_address = "127.0.0.1:1" # overridden by the flag
            broadcast_address = "cfg-host"
            inactive_producer_timeout = "300s"
            tombstone_lifetime = 45000
            """);
        using var process = ManagedProcess.Start(Exe, ["--config=" + config, "--http-address", $"127.0.0.1:{http}"]);
        await process.WaitForHttpAsync($"http://127.0.0.1:{http}/ping", TimeSpan.FromSeconds(20));
        await using var client = await V1Client.ConnectAsync(tcp);
        await client.SendMagicAsync();
        Assert.Contains("\"broadcast_address\":\"cfg-host\"", await client.IdentifyAsync(V1Client.IdentifyJson("h", 1, 2)));
        Assert.True(process.Terminate(TimeSpan.FromSeconds(15)));
    }

    [Fact(Timeout = T)]
    public async Task HelpListsEveryUpstreamFlag()
    {
        using var process = ManagedProcess.Start(Exe, ["--help"]);
        await Wait.UntilAsync(() => process.HasExited, "help to exit", TimeSpan.FromSeconds(20));
        Assert.Equal(0, process.ExitCode);
        await OutputContainsAsync(process, "--tombstone-lifetime");
        foreach (var flag in new[]
                 {
                     "--config", "--version", "--log-level", "--log-prefix", "--verbose", "--tcp-address", "--http-address",
                     "--broadcast-address", "--inactive-producer-timeout", "--tombstone-lifetime",
                 })
        {
            Assert.Contains(flag, process.Output);
        }
    }

    [Fact(Timeout = T)]
    public async Task VersionPrintsUpstreamCompatibleVersion()
    {
        using var process = ManagedProcess.Start(Exe, ["-version"]);
        await Wait.UntilAsync(() => process.HasExited, "version to exit", TimeSpan.FromSeconds(20));
        Assert.Equal(0, process.ExitCode);
        await OutputContainsAsync(process, "nsqlookupd v");
        Assert.StartsWith("nsqlookupd v1.3.0", process.Output.Trim());
    }

    [Theory(Timeout = T)]
    [InlineData("--no-such-flag")]
    [InlineData("-tombstone-lifetime=forever")]
    [InlineData("-log-level=loud")]
    public async Task BadFlagsExitWithUsageError(string arg) => Assert.Equal(2, await RunToExitAsync(arg));

    [Fact(Timeout = T)]
    public async Task PortInUseExitsWithError()
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        Assert.Equal(1, await RunToExitAsync($"-tcp-address=127.0.0.1:{port}", $"-http-address=127.0.0.1:{FreePort.Next()}"));
    }
}
