namespace NsqSharp.Testing;

/// <summary>
/// Our nsqlookupd (or upstream's, given its path) as a real process on free 127.0.0.1 ports (or where a
/// <see cref="ServerPlacement"/> says), ready once it listens on TCP and HTTP itself and GET /ping answers 200.
/// Restartable on the same ports.
/// </summary>
public sealed class NsqlookupdProcess : TypedServer
{
    private NsqlookupdProcess(ServerProcess server)
        : base(server, data: null)
    {
    }

    public int TcpPort => Server.Ports[0];

    public int HttpPort => Server.Ports[1];

    public string TcpAddress => $"{Host}:{TcpPort}";

    public string HttpAddress => $"{Host}:{HttpPort}";

    public string HttpBase => $"http://{HttpAddress}";

    public static Task<NsqlookupdProcess> StartAsync(params string[] extraArgs) => StartAsync(extraArgs, executable: null);

    /// <summary>Starts nsqlookupd with the extra flags; with a placement, where that says (default: 127.0.0.1, free ports).</summary>
    public static async Task<NsqlookupdProcess> StartAsync(IEnumerable<string> extraArgs, string? executable, ServerPlacement? placement = null) =>
        new(await ServerProcess.StartAsync(Spec([.. extraArgs], executable, placement)).ConfigureAwait(false));

    /// <summary>How nsqlookupd is started: ports [tcp, http], on the placement's host (default 127.0.0.1).</summary>
    public static ServerSpec Spec(IReadOnlyList<string> extraArgs, string? executable = null, ServerPlacement? placement = null)
    {
        var at = placement ?? ServerPlacement.Loopback;
        return new()
        {
            Name = "nsqlookupd",
            Executable = executable ?? RepoPaths.Executable("nsqlookupd"),
            PortCount = 2,
            Arguments = ports => [.. ListenArgs(at.Host, ports[0], ports[1]), .. extraArgs],
            Probe = ServerSpec.HttpProbe(at.Host, 1, "/ping", r => Task.FromResult(r.IsSuccessStatusCode)),
            Placement = at,
        };
    }
}
