namespace NsqSharp.Testing;

/// <summary>
/// Our nsqlookupd (or upstream's, given its path) as a real process on free 127.0.0.1 ports, ready once it
/// listens on TCP and HTTP itself and GET /ping answers 200. Restartable on the same ports.
/// </summary>
public sealed class NsqlookupdProcess : TypedServer
{
    private NsqlookupdProcess(ServerProcess server)
        : base(server, data: null)
    {
    }

    public int TcpPort => Server.Ports[0];

    public int HttpPort => Server.Ports[1];

    public string TcpAddress => $"127.0.0.1:{TcpPort}";

    public string HttpAddress => $"127.0.0.1:{HttpPort}";

    public string HttpBase => $"http://{HttpAddress}";

    public static Task<NsqlookupdProcess> StartAsync(params string[] extraArgs) => StartAsync(extraArgs, executable: null);

    public static async Task<NsqlookupdProcess> StartAsync(IEnumerable<string> extraArgs, string? executable) =>
        new(await ServerProcess.StartAsync(Spec([.. extraArgs], executable)).ConfigureAwait(false));

    /// <summary>How nsqlookupd is started: ports [tcp, http].</summary>
    public static ServerSpec Spec(IReadOnlyList<string> extraArgs, string? executable = null) => new()
    {
        Name = "nsqlookupd",
        Executable = executable ?? RepoPaths.Executable("nsqlookupd"),
        PortCount = 2,
        Arguments = ports => [.. LoopbackArgs(ports[0], ports[1]), .. extraArgs],
        Probe = ServerSpec.HttpProbe(1, "/ping", r => Task.FromResult(r.IsSuccessStatusCode)),
    };
}
