using System.Net;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Lookupd.Tests;

/// <summary>
/// The nsqlookupd executable: upstream flag spellings, config file, help/version, signals; and the test harness's
/// bind-race retry against it.
/// </summary>
public sealed class HostProcessTests
{
    private const int T = 60_000;
    private static readonly TimeSpan ExitWithin = TimeSpan.FromSeconds(20);

    private static string Exe => RepoPaths.Executable("nsqlookupd");

    private static async Task<ManagedProcess> RunToExitAsync(params string[] args) => await ManagedProcess.RunAsync(Exe, args, ExitWithin);

    [Fact(Timeout = T)]
    public async Task AcceptsGoStyleSingleDashFlagsAndStopsOnSigterm()
    {
        await using var server = await ServerProcess.StartAsync(NsqlookupdProcess.Spec([]) with
        {
            Arguments = ports =>
            [
                "-tcp-address", $"127.0.0.1:{ports[0]}", $"-http-address=127.0.0.1:{ports[1]}", "-broadcast-address=127.0.0.1",
                "-verbose", "--inactive-producer-timeout", "10s", "-tombstone-lifetime=1m30s", "-log-level=debug",
            ],
        });
        var (tcp, http) = (server.Ports[0], server.Ports[1]);

        await using (var client = await V1Client.ConnectAsync(tcp))
        {
            await client.SendMagicAsync();
            var identify = await client.IdentifyAsync(V1Client.IdentifyJson("127.0.0.1", 1, 2));
            Assert.Contains($"\"tcp_port\":{tcp}", identify);
            Assert.Contains($"\"http_port\":{http}", identify);
            Assert.Equal("OK", await client.CommandAsync("REGISTER proc_topic"));
        }

        Assert.True(server.Terminate(TimeSpan.FromSeconds(15)), "graceful exit on SIGTERM");
        Assert.Equal(0, server.Process.ExitCode);
        Assert.Contains("INFO: TCP: listening on 127.0.0.1:" + tcp, server.Output);
        Assert.Contains("[nsqlookupd] ", server.Output);
    }

    [Fact(Timeout = T)]
    public async Task ReadsConfigFileWithFlagsTakingPrecedence()
    {
        using var dir = new TempDirectory();
        var config = Path.Combine(dir.Path, "nsqlookupd.cfg");
        // Ready means listening on both ports: the TCP one only the config file names.
        await using var server = await ServerProcess.StartAsync(NsqlookupdProcess.Spec([]) with
        {
            Arguments = ports =>
            {
                File.WriteAllText(config, $"""
                    ## log verbosity level
                    log_level = "info"
                    tcp_address = "127.0.0.1:{ports[0]}"
                    http_address = "127.0.0.1:1" # overridden by the flag
                    broadcast_address = "cfg-host"
                    inactive_producer_timeout = "300s"
                    tombstone_lifetime = 45000
                    """);
                return ["--config=" + config, "--http-address", $"127.0.0.1:{ports[1]}"];
            },
        });
        await using var client = await V1Client.ConnectAsync(server.Ports[0]);
        await client.SendMagicAsync();
        Assert.Contains("\"broadcast_address\":\"cfg-host\"", await client.IdentifyAsync(V1Client.IdentifyJson("h", 1, 2)));
        Assert.True(server.Terminate(TimeSpan.FromSeconds(15)));
    }

    [Fact(Timeout = T)]
    public async Task HelpListsEveryUpstreamFlag()
    {
        using var process = await RunToExitAsync("--help");
        Assert.Equal(0, process.ExitCode);
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
    public async Task HelpListsTheClusterFlags_SayingUncleanElectionCanLoseAcknowledgedData()
    {
        using var process = await RunToExitAsync("--help");
        Assert.Equal(0, process.ExitCode);
        foreach (var flag in new[] { "--etcd-endpoints", "--cluster-name", "--allow-unclean-election" })
        {
            Assert.Contains(flag, process.Output);
        }

        var unclean = process.Output[process.Output.IndexOf("--allow-unclean-election", StringComparison.Ordinal)..];
        Assert.Contains("lose acknowledged data", unclean.ReplaceLineEndings(" ").Replace("  ", " ", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory(Timeout = T)]
    [InlineData("--etcd-endpoints=127.0.0.1:2379", "invalid --etcd-endpoints: invalid etcd endpoint '127.0.0.1:2379' (want http://host:port)")]
    [InlineData("--etcd-endpoints=http://127.0.0.1", "invalid --etcd-endpoints: invalid etcd endpoint 'http://127.0.0.1' (want http://host:port)")]
    [InlineData("--etcd-endpoints=ftp://127.0.0.1:2379", "invalid --etcd-endpoints: invalid etcd endpoint 'ftp://127.0.0.1:2379' (want http://host:port)")]
    [InlineData("--etcd-endpoints=,", "invalid --etcd-endpoints: no etcd endpoint given")]
    [InlineData("--cluster-name=a/b", "invalid --cluster-name: invalid cluster name 'a/b' (1-64 of [a-zA-Z0-9._-])")]
    public async Task BadClusterFlagsExitWithStatus1AndSayWhy(string arg, string message)
    {
        // Loopback ports of its own, so a flag that wrongly passed could not take the default ones.
        using var process = await RunToExitAsync(arg, $"-tcp-address=127.0.0.1:{FreePort.Next()}", $"-http-address=127.0.0.1:{FreePort.Next()}");
        Assert.Equal(1, process.ExitCode);
        Assert.Contains(message, process.Output);
    }

    [Fact(Timeout = T)]
    public async Task RepeatedAndCommaSeparatedEtcdEndpointsAreValidatedTogether()
    {
        using var process = await RunToExitAsync("--etcd-endpoints=http://127.0.0.1:2379,http://127.0.0.1:22379", "-etcd-endpoints", "http://bad",
            "--allow-unclean-election");
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("invalid etcd endpoint 'http://bad'", process.Output);
    }

    [Fact(Timeout = T)]
    public async Task AMalformedUncleanElectionBooleanIsAUsageError()
    {
        using var process = await RunToExitAsync("--allow-unclean-election=maybe");
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("invalid boolean value \"maybe\" for --allow-unclean-election", process.Output);
    }

    [Fact(Timeout = T)]
    public async Task VersionPrintsUpstreamCompatibleVersion()
    {
        using var process = await RunToExitAsync("-version");
        Assert.Equal(0, process.ExitCode);
        Assert.StartsWith("nsqlookupd v1.3.0", process.Output.Trim());
    }

    [Theory(Timeout = T)]
    [InlineData("--no-such-flag")]
    [InlineData("-tombstone-lifetime=forever")]
    [InlineData("-log-level=loud")]
    public async Task BadFlagsExitWithUsageError(string arg)
    {
        using var process = await RunToExitAsync(arg);
        Assert.Equal(2, process.ExitCode);
    }

    [Fact(Timeout = T)]
    public async Task PortInUseExitsWithError()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        using var process = await RunToExitAsync($"-tcp-address=127.0.0.1:{port}", $"-http-address=127.0.0.1:{FreePort.Next()}");
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("address already in use", process.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact(Timeout = T)]
    public async Task LostBindRaceIsRetriedOnFreshPorts()
    {
        // The HTTP port is taken, between choosing and binding, by a process that even answers /ping: the harness
        // must see that nsqlookupd itself never listened there and exited, and start it again on new ports.
        await using var winner = await HttpSquatter.StartAsync();
        var handed = 0;
        await using var server = await ServerProcess.StartAsync(NsqlookupdProcess.Spec([]) with
        {
            ChoosePort = () => ++handed == 2 ? winner.Port : FreePort.Next(),
        });

        Assert.Equal(2, server.Attempts);
        Assert.NotEqual(winner.Port, server.Ports[1]);
        Assert.True(ProcessResources.ListensOn(server.Pid, server.Ports[1]));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var ping = await http.GetAsync($"http://127.0.0.1:{server.Ports[1]}/ping");
        Assert.Equal("OK", await ping.Content.ReadAsStringAsync());
    }

    [Fact(Timeout = T)]
    public async Task BindRetriesAreBounded()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var taken = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var spec = NsqlookupdProcess.Spec([]) with { ChoosePort = () => taken, MaxAttempts = 2 };

        var failed = await Assert.ThrowsAsync<ServerExitedException>(() => ServerProcess.StartAsync(spec));
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("address already in use", failed.Output, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Holds a port and answers every HTTP request 200 OK, as a server that won a bind race would.</summary>
    private sealed class HttpSquatter : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static Task<HttpSquatter> StartAsync()
        {
            var squatter = new HttpSquatter();
            squatter._listener.Start();
            squatter._loop = squatter.ServeAsync();
            return Task.FromResult(squatter);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _loop;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            _stop.Dispose();
        }

        private async Task ServeAsync()
        {
            var reply = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                try
                {
                    var stream = client.GetStream();
                    var request = new byte[4096];
                    _ = await stream.ReadAsync(request, _stop.Token);
                    await stream.WriteAsync(reply, _stop.Token);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
