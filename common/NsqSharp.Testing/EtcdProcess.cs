namespace NsqSharp.Testing;

/// <summary>
/// A single-member etcd (Debian's etcd-server 3.4: `etcd` on PATH) for tests: a fresh data directory, client and
/// peer URLs on free 127.0.0.1 ports (or where a <see cref="ServerPlacement"/> says), ready once it listens on both
/// itself and GET /health says {"health":"true"}. The v3 API is reachable as JSON over HTTP at <see cref="ClientUrl"/>
/// (POST /v3/kv/put, /v3/kv/range, ... with base64 keys and values). Killed and its data removed on dispose (unless
/// started on a data path of the caller's).
/// </summary>
public sealed class EtcdProcess : TypedServer
{
    private EtcdProcess(ServerProcess server, TempDirectory? data, string dataPath)
        : base(server, data)
    {
        DataPath = dataPath;
    }

    /// <summary>The etcd executable on PATH, or null when etcd-server is not installed.</summary>
    public static string? Executable { get; } = FindOnPath("etcd");

    public int ClientPort => Server.Ports[0];

    public int PeerPort => Server.Ports[1];

    /// <summary>http://127.0.0.1:port (the placement's host), the base of the v3 JSON gateway and /health.</summary>
    public string ClientUrl => $"http://{Host}:{ClientPort}";

    public string DataPath { get; }

    public static Task<EtcdProcess> StartAsync(params string[] extraArgs) => StartAsync(extraArgs, spec => spec);

    /// <summary>
    /// Starts etcd on ports chosen beforehand (FreePort.Next), for a test whose client must know the address before
    /// etcd exists (a process started while etcd is down). One attempt: a port taken meanwhile fails the start.
    /// </summary>
    public static Task<EtcdProcess> StartOnPortsAsync(int clientPort, int peerPort, params string[] extraArgs)
    {
        var ports = new Queue<int>([clientPort, peerPort]);
        return StartAsync(extraArgs, spec => spec with { ChoosePort = ports.Dequeue, MaxAttempts = 1 });
    }

    /// <summary>Starts etcd; adjust may change the spec (the harness's own tests choose its ports).</summary>
    public static async Task<EtcdProcess> StartAsync(IEnumerable<string> extraArgs, Func<ServerSpec, ServerSpec> adjust)
    {
        IReadOnlyList<string> args = [.. extraArgs];
        var (server, data) = await StartWithDataAsync("etcd", path => adjust(Spec(args, path))).ConfigureAwait(false);
        return new EtcdProcess(server, data, data.Path);
    }

    /// <summary>
    /// Starts etcd where the placement says; with a data path, on that directory (created if missing, left in place
    /// on dispose, as the chaos harness keeps it for inspection) instead of a fresh one.
    /// </summary>
    public static async Task<EtcdProcess> StartAsync(IEnumerable<string> extraArgs, ServerPlacement placement, string? dataPath = null)
    {
        IReadOnlyList<string> args = [.. extraArgs];
        if (dataPath != null)
        {
            Directory.CreateDirectory(dataPath);
            return new EtcdProcess(await ServerProcess.StartAsync(Spec(args, dataPath, placement)).ConfigureAwait(false), null, dataPath);
        }

        var (server, data) = await StartWithDataAsync("etcd", path => Spec(args, path, placement)).ConfigureAwait(false);
        return new EtcdProcess(server, data, data.Path);
    }

    /// <summary>How etcd is started: ports [client, peer] on the placement's host (default 127.0.0.1); one member named
    /// "test" with a new cluster.</summary>
    public static ServerSpec Spec(IReadOnlyList<string> extraArgs, string dataPath, ServerPlacement? placement = null)
    {
        var at = placement ?? ServerPlacement.Loopback;
        return new()
        {
            Name = "etcd",
            Executable = Executable ?? throw new FileNotFoundException("etcd is not installed (apt-get install etcd-server)", "etcd"),
            PortCount = 2,
            Arguments = ports =>
            [
                "--name=test",
                // A fresh directory per attempt: a start that lost the bind race may have written a member there.
                $"--data-dir={Path.Combine(dataPath, $"member-{ports[0]}")}",
                $"--listen-client-urls=http://{at.Host}:{ports[0]}",
                $"--advertise-client-urls=http://{at.Host}:{ports[0]}",
                $"--listen-peer-urls=http://{at.Host}:{ports[1]}",
                $"--initial-advertise-peer-urls=http://{at.Host}:{ports[1]}",
                $"--initial-cluster=test=http://{at.Host}:{ports[1]}",
                "--initial-cluster-state=new",
                .. extraArgs,
            ],
            Probe = ServerSpec.HttpProbe(at.Host, 0, "/health", async r =>
                r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync().ConfigureAwait(false)).Contains("\"health\":\"true\"", StringComparison.Ordinal)),
            Placement = at,
        };
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
