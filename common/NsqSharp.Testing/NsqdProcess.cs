namespace NsqSharp.Testing;

/// <summary>Our nsqd as a real process on free 127.0.0.1 ports with its own data directory; restartable on the same ports and data.</summary>
public sealed class NsqdProcess : IDisposable
{
    private readonly IReadOnlyList<string> _extraArgs;
    private readonly TempDirectory? _ownedData;

    private NsqdProcess(string dataPath, TempDirectory? ownedData, IReadOnlyList<string> extraArgs)
    {
        DataPath = dataPath;
        _ownedData = ownedData;
        _extraArgs = extraArgs;
        TcpPort = FreePort.Next();
        HttpPort = FreePort.Next();
    }

    public int TcpPort { get; }

    public int HttpPort { get; }

    public string DataPath { get; }

    public string HttpBase => $"http://127.0.0.1:{HttpPort}";

    public ManagedProcess? Process { get; private set; }

    public static async Task<NsqdProcess> StartAsync(params string[] extraArgs)
    {
        var data = new TempDirectory("nsqd");
        var nsqd = new NsqdProcess(data.Path, data, extraArgs);
        await nsqd.RestartAsync().ConfigureAwait(false);
        return nsqd;
    }

    /// <summary>Starts (again) on the same ports and data path and waits for /ping.</summary>
    public async Task RestartAsync()
    {
        Process?.Dispose();
        var args = new List<string>
        {
            $"--tcp-address=127.0.0.1:{TcpPort}",
            $"--http-address=127.0.0.1:{HttpPort}",
            "--broadcast-address=127.0.0.1",
            $"--data-path={DataPath}",
        };
        args.AddRange(_extraArgs);
        Process = ManagedProcess.Start(RepoPaths.Executable("nsqd"), args);
        await Process.WaitForHttpAsync(HttpBase + "/ping", TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    public void Kill9() => Process?.KillHard();

    public void Dispose()
    {
        Process?.Dispose();
        _ownedData?.Dispose();
    }
}
