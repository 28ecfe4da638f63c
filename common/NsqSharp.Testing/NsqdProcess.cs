namespace NsqSharp.Testing;

/// <summary>
/// Our nsqd as a real process on free 127.0.0.1 ports (TCP, HTTP and HTTPS, so a TLS-enabled nsqd
/// never binds a public port) with its own data directory. Restartable on the same ports and data,
/// so tests can kill -9 it and bring it back.
/// </summary>
public sealed class NsqdProcess : IDisposable
{
    private readonly IReadOnlyList<string> _extraArgs;
    private readonly TempDirectory? _data;
    private readonly ProcessLimits? _limits;

    private NsqdProcess(IReadOnlyList<string> extraArgs, ProcessLimits? limits, string? dataPath = null)
    {
        _data = dataPath is null ? new TempDirectory("nsqd") : null;
        DataPath = dataPath ?? _data!.Path;
        _extraArgs = extraArgs;
        _limits = limits;
        TcpPort = FreePort.Next();
        HttpPort = FreePort.Next();
        HttpsPort = FreePort.Next();
    }

    public int TcpPort { get; private set; }

    public int HttpPort { get; private set; }

    public int HttpsPort { get; private set; }

    /// <summary>Its own temp directory (deleted on dispose), or the caller's (see <see cref="StartOnDataPathAsync"/>).</summary>
    public string DataPath { get; }

    public string HttpBase => $"http://127.0.0.1:{HttpPort}";

    public ManagedProcess? Process { get; private set; }

    public string Output => Process?.Output ?? "";

    public static Task<NsqdProcess> StartAsync(params string[] extraArgs) => StartAsync((IEnumerable<string>)extraArgs);

    public static Task<NsqdProcess> StartAsync(IEnumerable<string> extraArgs) => StartAsync(extraArgs, limits: null);

    /// <summary>Starts nsqd on the caller's data path (which it may have to create), left in place on dispose.</summary>
    public static Task<NsqdProcess> StartOnDataPathAsync(string dataPath, IEnumerable<string> extraArgs) =>
        StartAsync(new NsqdProcess([.. extraArgs], limits: null, dataPath));

    /// <summary>
    /// Starts nsqd, with resource limits when given (see <see cref="ProcessLimits"/>), so tests can take it
    /// to its descriptor or file-size limit without touching the test host's.
    /// </summary>
    public static Task<NsqdProcess> StartAsync(IEnumerable<string> extraArgs, ProcessLimits? limits) =>
        StartAsync(new NsqdProcess([.. extraArgs], limits));

    private static async Task<NsqdProcess> StartAsync(NsqdProcess nsqd)
    {
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await nsqd.RestartAsync().ConfigureAwait(false);
                    return nsqd;
                }
                catch (InvalidOperationException) when (attempt < 3 && nsqd.Output.Contains("address already in use", StringComparison.Ordinal))
                {
                    // Another process took a port between our check and nsqd's bind: try fresh ones.
                    nsqd.TcpPort = FreePort.Next();
                    nsqd.HttpPort = FreePort.Next();
                    nsqd.HttpsPort = FreePort.Next();
                }
            }
        }
        catch
        {
            nsqd.Dispose();
            throw;
        }
    }

    /// <summary>Starts (again) on the same ports and data path and waits until it is listening.</summary>
    public async Task RestartAsync()
    {
        Process?.Dispose();
        var args = new List<string>
        {
            $"--tcp-address=127.0.0.1:{TcpPort}",
            $"--http-address=127.0.0.1:{HttpPort}",
            $"--https-address=127.0.0.1:{HttpsPort}",
            "--broadcast-address=127.0.0.1",
            $"--data-path={DataPath}",
        };
        args.AddRange(_extraArgs);
        Process = _limits is { } limits ? limits.Start(RepoPaths.Executable("nsqd"), args) : ManagedProcess.Start(RepoPaths.Executable("nsqd"), args);
        await WaitUntilListeningAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>SIGKILL: no chance to flush or checkpoint anything.</summary>
    public void Kill9() => Process?.KillHard();

    /// <summary>
    /// Waits until HTTP answers /ping with any status (with --tls-required plain HTTP says 403)
    /// and the TCP port accepts connections.
    /// </summary>
    private async Task WaitUntilListeningAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            if (Process!.HasExited)
            {
                throw new InvalidOperationException($"nsqd exited with {Process.ExitCode} during startup:\n{Output}");
            }

            try
            {
                using var response = await probe.GetAsync(HttpBase + "/ping").ConfigureAwait(false);
                using var tcp = new System.Net.Sockets.TcpClient();
                await tcp.ConnectAsync("127.0.0.1", TcpPort).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Net.Sockets.SocketException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nsqd did not start listening within {timeout}:\n{Output}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        try
        {
            Process?.Dispose();
        }
        finally
        {
            _data?.Dispose();
        }
    }
}

/// <summary>
/// Resource limits for a test's nsqd, set by util-linux `prlimit`, which then execs nsqd (same pid).
/// OpenFiles is RLIMIT_NOFILE. FileSizeBytes is RLIMIT_FSIZE: a write past it fails with EFBIG, the way a
/// full disk fails a write; SIGXFSZ is ignored (by sh, inherited across exec) so the write fails instead of
/// the process being killed, and the runtime's W^X double mapping (a memfd it grows) is turned off.
/// </summary>
public sealed record ProcessLimits(int OpenFiles = 0, long FileSizeBytes = 0)
{
    internal ManagedProcess Start(string executable, IReadOnlyList<string> args)
    {
        var prlimit = new List<string> { "prlimit" };
        if (OpenFiles > 0)
        {
            prlimit.Add($"--nofile={OpenFiles}:{OpenFiles}");
        }

        if (FileSizeBytes > 0)
        {
            prlimit.Add($"--fsize={FileSizeBytes}:{FileSizeBytes}");
        }

        prlimit.Add("--");
        var script = "trap '' XFSZ; exec " + string.Join(' ', prlimit) + " \"$0\" \"$@\"";
        var environment = FileSizeBytes > 0 ? new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0" } : null;
        return ManagedProcess.Start("/bin/sh", ["-c", script, executable, .. args], environment: environment);
    }
}
