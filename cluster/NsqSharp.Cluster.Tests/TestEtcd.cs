using NsqSharp.Testing;

namespace NsqSharp.Cluster.Tests;

/// <summary>A real etcd (Debian's etcd-server) of the test's own on free 127.0.0.1 ports with a temp data dir.</summary>
internal sealed class TestEtcd : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private ManagedProcess _process;

    private TestEtcd(TempDirectory dir, ManagedProcess process, int clientPort, int peerPort)
    {
        _dir = dir;
        _process = process;
        ClientPort = clientPort;
        PeerPort = peerPort;
    }

    public int ClientPort { get; }

    public int PeerPort { get; }

    public string Endpoint => $"http://127.0.0.1:{ClientPort}";

    public static async Task<TestEtcd> StartAsync()
    {
        for (int attempt = 0; ; attempt++)
        {
            var dir = new TempDirectory("nsqsharp-etcd");
            int client = FreePort.Next(), peer = FreePort.Next();
            var process = Launch(dir.Path, client, peer);
            try
            {
                await process.WaitForHttpAsync($"http://127.0.0.1:{client}/health", TimeSpan.FromSeconds(30));
                return new TestEtcd(dir, process, client, peer);
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("address already in use", StringComparison.Ordinal))
            {
                process.Dispose();
                dir.Dispose();
            }
        }
    }

    /// <summary>SIGSTOP / SIGCONT: etcd stops answering without closing its sockets.</summary>
    public void Pause() => _process.Signal(Native.SIGSTOP);

    public void Resume() => _process.Signal(Native.SIGCONT);

    public void Kill() => _process.KillHard();

    /// <summary>Starts etcd again on the same ports and data (after <see cref="Kill"/>).</summary>
    public async Task RestartAsync()
    {
        _process.Dispose();
        _process = Launch(_dir.Path, ClientPort, PeerPort);
        await _process.WaitForHttpAsync($"{Endpoint}/health", TimeSpan.FromSeconds(30));
    }

    public ValueTask DisposeAsync()
    {
        _process.Signal(Native.SIGCONT);
        _process.KillHard();
        _process.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    private static ManagedProcess Launch(string dataDir, int client, int peer) => ManagedProcess.Start("etcd",
    [
        "--name", "test",
        "--data-dir", Path.Combine(dataDir, "data"),
        "--listen-client-urls", $"http://127.0.0.1:{client}",
        "--advertise-client-urls", $"http://127.0.0.1:{client}",
        "--listen-peer-urls", $"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
        "--initial-cluster", $"test=http://127.0.0.1:{peer}",
        "--initial-cluster-state", "new",
        "--log-level", "warn",
    ]);
}
