namespace NsqSharp.Testing;

/// <summary>
/// Where a test's server runs and how the harness reaches it. The default (<see cref="Loopback"/>) is what every test
/// uses: 127.0.0.1, free ports chosen per start, this process's network namespace, output kept in memory only. The
/// chaos harness (chaos-tests/) places servers in Linux network namespaces of their own instead: an address of the
/// namespace, fixed ports (nothing else binds there), the command run as `ip netns exec NS exe args` (which execs in
/// place: the pid is the server's, so signals and /proc reach it), probes through a client that can reach that
/// address, and output appended to a file that outlives the process.
/// </summary>
public sealed record ServerPlacement
{
    /// <summary>127.0.0.1, free ports, this namespace: the default.</summary>
    public static ServerPlacement Loopback { get; } = new();

    /// <summary>The address the server listens on and announces, and that probes and reported addresses use.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>A named network namespace (/var/run/netns/NAME) to run the server in, or null for this process's.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// Fixed ports (in the order the spec uses them) instead of free ones; then there is one attempt per start,
    /// since a port taken is not a lost race a retry could win.
    /// </summary>
    public IReadOnlyList<int>? Ports { get; init; }

    /// <summary>Makes the HTTP client the readiness probe uses (one that can reach <see cref="Host"/>); null: a plain one.</summary>
    public Func<HttpClient>? ProbeClient { get; init; }

    /// <summary>A file each start appends the process's output to (with a header line per start), or null.</summary>
    public string? OutputFile { get; init; }

    /// <summary>`ip` from iproute2, for <see cref="NetworkNamespace"/>: on PATH, else /usr/sbin or /sbin.</summary>
    public static string IpCommand { get; } = FindIp();

    /// <summary>The command that runs the executable here: itself, or `ip netns exec NS` followed by it.</summary>
    public (string File, IReadOnlyList<string> Args) Wrap(string file, IReadOnlyList<string> args) =>
        NetworkNamespace is { } ns ? (IpCommand, ["netns", "exec", ns, file, .. args]) : (file, args);

    private static string FindIp()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var dir in path.Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            var candidate = Path.Combine(dir, "ip");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return "ip";
    }
}
