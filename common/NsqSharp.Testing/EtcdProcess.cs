namespace NsqSharp.Testing;

/// <summary>
/// A single-member etcd (Debian's etcd-server 3.4: `etcd` on PATH) for tests: a fresh data directory, client and
/// peer URLs on free 127.0.0.1 ports, ready once it listens on both itself and GET /health says
/// {"health":"true"}. The v3 API is reachable as JSON over HTTP at <see cref="ClientUrl"/> (POST /v3/kv/put,
/// /v3/kv/range, ... with base64 keys and values). Killed and its data removed on dispose.
/// </summary>
public sealed class EtcdProcess : TypedServer
{
    private EtcdProcess(ServerProcess server, TempDirectory data)
        : base(server, data)
    {
        DataPath = data.Path;
    }

    /// <summary>The etcd executable on PATH, or null when etcd-server is not installed.</summary>
    public static string? Executable { get; } = FindOnPath("etcd");

    public int ClientPort => Server.Ports[0];

    public int PeerPort => Server.Ports[1];

    /// <summary>http://127.0.0.1:port, the base of the v3 JSON gateway and /health.</summary>
    public string ClientUrl => $"http://127.0.0.1:{ClientPort}";

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
        return new EtcdProcess(server, data);
    }

    /// <summary>How etcd is started: ports [client, peer]; one member named "test" with a new cluster.</summary>
    public static ServerSpec Spec(IReadOnlyList<string> extraArgs, string dataPath) => new()
    {
        Name = "etcd",
        Executable = Executable ?? throw new FileNotFoundException("etcd is not installed (apt-get install etcd-server)", "etcd"),
        PortCount = 2,
        Arguments = ports =>
        [
            "--name=test",
            // A fresh directory per attempt: a start that lost the bind race may have written a member there.
            $"--data-dir={Path.Combine(dataPath, $"member-{ports[0]}")}",
            $"--listen-client-urls=http://127.0.0.1:{ports[0]}",
            $"--advertise-client-urls=http://127.0.0.1:{ports[0]}",
            $"--listen-peer-urls=http://127.0.0.1:{ports[1]}",
            $"--initial-advertise-peer-urls=http://127.0.0.1:{ports[1]}",
            $"--initial-cluster=test=http://127.0.0.1:{ports[1]}",
            "--initial-cluster-state=new",
            .. extraArgs,
        ],
        Probe = ServerSpec.HttpProbe(0, "/health", async r =>
            r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync().ConfigureAwait(false)).Contains("\"health\":\"true\"", StringComparison.Ordinal)),
    };

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
