using NsqSharp.Testing;

namespace NsqSharp.Chaos.Cluster;

public enum MemberKind
{
    Etcd,
    Lookupd,
    Nsqd,
}

/// <summary>
/// One process of the cluster under test (etcd, a lookupd or an nsqd), by name: where it runs (its lab address and
/// namespace, or 127.0.0.1), its process faults (kill -9, SIGSTOP/SIGCONT, SIGTERM) and restart on the same address,
/// ports and data. Its output is appended to <see cref="LogPath"/> across restarts.
/// </summary>
public sealed class ChaosMember
{
    private readonly TypedServer _server;
    private volatile bool _paused;

    internal ChaosMember(string name, MemberKind kind, TypedServer server, string? dataPath, string logPath)
    {
        Name = name;
        Kind = kind;
        _server = server;
        DataPath = dataPath;
        LogPath = logPath;
    }

    /// <summary>"etcd", "l1", "n1": for an nsqd also its --node-id.</summary>
    public string Name { get; }

    public MemberKind Kind { get; }

    /// <summary>Its address: the lab address of its namespace, or 127.0.0.1.</summary>
    public string Host => _server.Host;

    /// <summary>Its network namespace, or null on loopback.</summary>
    public string? NetworkNamespace => _server.Server.Placement.NetworkNamespace;

    /// <summary>Its ports: etcd [client, peer], lookupd [tcp, http], nsqd [tcp, http, https].</summary>
    public IReadOnlyList<int> Ports => _server.Server.Ports;

    /// <summary>host:port of its TCP protocol (etcd: the client port).</summary>
    public string TcpAddress => $"{Host}:{Ports[0]}";

    /// <summary>host:port of its HTTP API (etcd: the client port, v3 JSON gateway and /health).</summary>
    public string HttpAddress => Kind == MemberKind.Etcd ? $"{Host}:{Ports[0]}" : $"{Host}:{Ports[1]}";

    public string HttpBase => $"http://{HttpAddress}";

    /// <summary>Its data directory (etcd and nsqd), kept after the run for inspection.</summary>
    public string? DataPath { get; }

    /// <summary>The file its output is appended to (every start, with a header line each).</summary>
    public string LogPath { get; }

    /// <summary>The pid of the current process (the server's own: `ip netns exec` execs in place).</summary>
    public int Pid => _server.Process.Pid;

    /// <summary>Whether the current process has exited (killed, crashed or stopped).</summary>
    public bool HasExited => _server.Process.HasExited;

    /// <summary>Whether it was paused (SIGSTOP) and not resumed since.</summary>
    public bool IsPaused => _paused;

    /// <summary>What the current process wrote (bounded, in memory; the whole of it is in <see cref="LogPath"/>).</summary>
    public string Output => _server.Output;

    public TypedServer Server => _server;

    /// <summary>SIGKILL: no chance to flush or checkpoint anything.</summary>
    public void Kill9()
    {
        _server.Kill9();
        _paused = false;
    }

    /// <summary>SIGSTOP: frozen, its sockets open but unanswered, until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        _server.Pause();
        _paused = true;
    }

    /// <summary>SIGCONT.</summary>
    public void Resume()
    {
        _server.Resume();
        _paused = false;
    }

    /// <summary>SIGTERM (resuming it first if paused), then waits; true if it exited within the timeout.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        Resume();
        return _server.Terminate(timeout);
    }

    /// <summary>Starts it again on the same address, ports and data (killing the current process first) and waits
    /// until it is ready.</summary>
    public async Task RestartAsync()
    {
        _paused = false;
        await _server.RestartAsync().ConfigureAwait(false);
    }

    /// <summary>Tears the newest segment of the partition (see <see cref="LogTailCorruption.Tear"/>); only while stopped.</summary>
    public CorruptionResult TearLogTail(string topic, int partition, long bytes) =>
        LogTailCorruption.Tear(StoppedDataPath(), topic, partition, bytes);

    /// <summary>Flips a bit near the end of the partition's newest segment (see <see cref="LogTailCorruption.FlipBit"/>);
    /// only while stopped.</summary>
    public CorruptionResult FlipLogTailBit(string topic, int partition, long fromEnd = 1, int bit = 0) =>
        LogTailCorruption.FlipBit(StoppedDataPath(), topic, partition, fromEnd, bit);

    private string StoppedDataPath()
    {
        if (Kind != MemberKind.Nsqd || DataPath is null)
        {
            throw new InvalidOperationException($"{Name} is not an nsqd: it has no partition logs");
        }

        return HasExited ? DataPath : throw new InvalidOperationException($"{Name} is running: stop it (Kill9 or Terminate) before damaging its log");
    }

    /// <summary>Kills it (resumed first) and releases the process; its data and log stay.</summary>
    internal void Stop()
    {
        try
        {
            _server.Resume();
        }
        catch (InvalidOperationException)
        {
        }

        _server.Dispose();
    }

    public override string ToString() => $"{Name} ({Kind}) {Host}" + (NetworkNamespace is { } ns ? $" in {ns}" : "");
}
