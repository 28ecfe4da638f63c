namespace NsqSharp.Testing;

/// <summary>
/// Our nsqd (or upstream's, given its path) as a real process on free 127.0.0.1 ports (TCP, HTTP and HTTPS, so a
/// TLS-enabled nsqd never binds a public port) with its own data directory. Ready once it listens on TCP and
/// HTTP itself (and HTTPS with --tls-cert) and /ping answers with any status (with --tls-required plain HTTP says
/// 403). Restartable on the same ports and data, so tests can kill -9 it and bring it back.
/// </summary>
public sealed class NsqdProcess : TypedServer
{
    private NsqdProcess(ServerProcess server, TempDirectory? data, string dataPath)
        : base(server, data)
    {
        DataPath = dataPath;
    }

    public int TcpPort => Server.Ports[0];

    public int HttpPort => Server.Ports[1];

    public int HttpsPort => Server.Ports[2];

    public string TcpAddress => $"{Host}:{TcpPort}";

    public string HttpAddress => $"{Host}:{HttpPort}";

    public string HttpBase => $"http://{HttpAddress}";

    public string DataPath { get; }

    public static Task<NsqdProcess> StartAsync(params string[] extraArgs) => StartAsync(extraArgs, limits: null);

    /// <summary>Starts nsqd on the caller's data path (which it may have to create), left in place on dispose.</summary>
    public static Task<NsqdProcess> StartOnDataPathAsync(string dataPath, IEnumerable<string> extraArgs) =>
        StartAsync(extraArgs, dataPath: dataPath);

    /// <summary>
    /// Starts nsqd with the extra flags. With limits, under those resource limits (see <see cref="ProcessLimits"/>),
    /// so tests can take it to its descriptor or file-size limit without touching the test host's. With an
    /// executable, that one (upstream's nsqd, say) instead of ours. With a data path, on that directory (left in
    /// place on dispose) instead of a fresh one. With a placement, where that says (default: 127.0.0.1, free ports).
    /// </summary>
    public static async Task<NsqdProcess> StartAsync(IEnumerable<string> extraArgs, ProcessLimits? limits = null,
        string? executable = null, string? dataPath = null, ServerPlacement? placement = null)
    {
        IReadOnlyList<string> args = [.. extraArgs];
        if (dataPath != null)
        {
            return new NsqdProcess(await ServerProcess.StartAsync(Spec(args, dataPath, limits, executable, placement)).ConfigureAwait(false), null, dataPath);
        }

        var (server, data) = await StartWithDataAsync("nsqd", path => Spec(args, path, limits, executable, placement)).ConfigureAwait(false);
        return new NsqdProcess(server, data, data.Path);
    }

    /// <summary>How nsqd is started: ports [tcp, http, https], on the placement's host (default 127.0.0.1).</summary>
    public static ServerSpec Spec(IReadOnlyList<string> extraArgs, string dataPath, ProcessLimits? limits = null, string? executable = null,
        ServerPlacement? placement = null)
    {
        var at = placement ?? ServerPlacement.Loopback;
        return new()
        {
            Name = "nsqd",
            Executable = executable ?? RepoPaths.Executable("nsqd"),
            PortCount = 3,
            Arguments = ports =>
            [
                .. ListenArgs(at.Host, ports[0], ports[1]),
                $"--https-address={at.Host}:{ports[2]}",
                $"--data-path={dataPath}",
                .. extraArgs,
            ],
            Listens = ports => HasTls(extraArgs) ? ports : ports.Take(2),
            Probe = ServerSpec.HttpProbe(at.Host, 1, "/ping"),
            Limits = limits,
            Placement = at,
        };
    }

    private static bool HasTls(IEnumerable<string> args) =>
        args.Any(a => a.TrimStart('-').StartsWith("tls-cert", StringComparison.Ordinal));
}

/// <summary>
/// Resource limits for a test's server, set by util-linux `prlimit`, which then execs it (same pid).
/// OpenFiles is RLIMIT_NOFILE. FileSizeBytes is RLIMIT_FSIZE: a write past it fails with EFBIG, the way a
/// full disk fails a write; SIGXFSZ is ignored (by sh, inherited across exec) so the write fails instead of
/// the process being killed, and the runtime's W^X double mapping (a memfd it grows) is turned off.
/// </summary>
public sealed record ProcessLimits(int OpenFiles = 0, long FileSizeBytes = 0)
{
    internal ManagedProcess Start(string executable, IReadOnlyList<string> args, IDictionary<string, string>? environment,
        ServerPlacement placement)
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
        var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>());
        if (FileSizeBytes > 0)
        {
            env["DOTNET_EnableWriteXorExecute"] = "0";
        }

        return ServerProcess.Start(placement.Wrap("/bin/sh", ["-c", script, executable, .. args]), env, placement.OutputFile);
    }
}
