namespace NsqSharp.Testing;

/// <summary>
/// What NsqdProcess, NsqlookupdProcess and EtcdProcess share: the <see cref="ServerProcess"/> below them, its fault
/// injection and restart, and a data directory of their own removed on dispose.
/// </summary>
public abstract class TypedServer : IDisposable, IAsyncDisposable
{
    private readonly TempDirectory? _data;

    private protected TypedServer(ServerProcess server, TempDirectory? data)
    {
        Server = server;
        _data = data;
    }

    public ServerProcess Server { get; }

    /// <summary>The current process (a new one after each restart).</summary>
    public ManagedProcess Process => Server.Process;

    public string Output => Server.Output;

    /// <summary>The address it listens on and announces (127.0.0.1 unless placed elsewhere, see <see cref="ServerPlacement"/>).</summary>
    public string Host => Server.Host;

    /// <summary>Waits (polling, bounded) until the process has written <paramref name="text"/>.</summary>
    /// <exception cref="TimeoutException">Not written within the timeout; carries the output so far.</exception>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{text}' not written within {timeout.TotalSeconds:0.#} s; output:\n{Output}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>Starts (again) on the same ports (and data) and waits until it is ready.</summary>
    public Task RestartAsync() => Server.RestartAsync();

    /// <summary>SIGKILL: no chance to flush or checkpoint anything.</summary>
    public void Kill9() => Server.Kill9();

    /// <summary>SIGTERM, then waits; true if it exited within the timeout.</summary>
    public bool Terminate(TimeSpan timeout) => Server.Terminate(timeout);

    /// <summary>SIGSTOP: frozen, its sockets open but unanswered, until <see cref="Resume"/>.</summary>
    public void Pause() => Server.Pause();

    public void Resume() => Server.Resume();

    public void Dispose()
    {
        try
        {
            Server.Dispose();
        }
        finally
        {
            _data?.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>nsqd's and nsqlookupd's listeners on the host (127.0.0.1 by default), upstream's flag names, and the host as
    /// the address they announce.</summary>
    private protected static string[] ListenArgs(string host, int tcpPort, int httpPort) =>
        [$"--tcp-address={host}:{tcpPort}", $"--http-address={host}:{httpPort}", $"--broadcast-address={host}"];

    /// <summary>Starts the spec made for a fresh data directory; the directory goes if the start fails.</summary>
    private protected static async Task<(ServerProcess Server, TempDirectory Data)> StartWithDataAsync(string prefix, Func<string, ServerSpec> spec)
    {
        var data = new TempDirectory(prefix);
        try
        {
            return (await ServerProcess.StartAsync(spec(data.Path)).ConfigureAwait(false), data);
        }
        catch
        {
            data.Dispose();
            throw;
        }
    }
}
