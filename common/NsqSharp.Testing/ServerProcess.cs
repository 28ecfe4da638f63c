using System.Diagnostics;

namespace NsqSharp.Testing;

/// <summary>
/// How to start one server for a test: the executable, how many 127.0.0.1 ports it is given and its arguments
/// for them, and when it is ready. A record, so a test can vary one field of a typed wrapper's spec. Its
/// <see cref="Placement"/> may put it elsewhere (the chaos harness's network namespaces).
/// </summary>
public sealed record ServerSpec
{
    /// <summary>For messages ("nsqd", "etcd").</summary>
    public required string Name { get; init; }

    public required string Executable { get; init; }

    /// <summary>How many free ports to choose; they reach <see cref="Arguments"/> in order.</summary>
    public int PortCount { get; init; }

    /// <summary>The command line for the chosen ports (called again with new ones after a lost bind race).</summary>
    public required Func<IReadOnlyList<int>, IEnumerable<string>> Arguments { get; init; }

    /// <summary>The ports the process itself must be listening on before it counts as started (default: all).</summary>
    public Func<IReadOnlyList<int>, IEnumerable<int>>? Listens { get; init; }

    /// <summary>Readiness beyond listening, e.g. GET /ping answering; polled until true.</summary>
    public Func<IReadOnlyList<int>, HttpClient, Task<bool>>? Probe { get; init; }

    /// <summary>Whether the output of a process that exited during startup says a port was taken.</summary>
    public Func<string, bool> IsBindFailure { get; init; } =
        output => output.Contains("address already in use", StringComparison.OrdinalIgnoreCase);

    /// <summary>Starts with fresh ports after a lost bind race, at most this many in all.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>How long one start may take before it fails (a failure bound, not a performance claim).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Resource limits, applied by prlimit (see <see cref="ProcessLimits"/>).</summary>
    public ProcessLimits? Limits { get; init; }

    public IDictionary<string, string>? Environment { get; init; }

    /// <summary>Where ports come from; the harness's own tests hand out a taken one first.</summary>
    public Func<int> ChoosePort { get; init; } = FreePort.Next;

    /// <summary>
    /// Where it runs and how it is reached (default: 127.0.0.1 and free ports). The typed wrappers' Spec methods
    /// build <see cref="Arguments"/> and <see cref="Probe"/> for the placement's host, so set it through them.
    /// </summary>
    public ServerPlacement Placement { get; init; } = ServerPlacement.Loopback;

    /// <summary>A probe that is true once GET http://127.0.0.1:port/path answers with a status the check accepts.</summary>
    public static Func<IReadOnlyList<int>, HttpClient, Task<bool>> HttpProbe(int portIndex, string path,
        Func<HttpResponseMessage, Task<bool>>? check = null) => HttpProbe("127.0.0.1", portIndex, path, check);

    /// <summary>A probe that is true once GET http://host:port/path answers with a status the check accepts.</summary>
    public static Func<IReadOnlyList<int>, HttpClient, Task<bool>> HttpProbe(string host, int portIndex, string path,
        Func<HttpResponseMessage, Task<bool>>? check = null) =>
        async (ports, http) =>
        {
            try
            {
                using var response = await http.GetAsync($"http://{host}:{ports[portIndex]}{path}").ConfigureAwait(false);
                return check == null || await check(response).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        };
}

/// <summary>A server process exited before it was ready (for a reason other than a lost bind race).</summary>
public sealed class ServerExitedException(string message, int exitCode, string output) : InvalidOperationException(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>All the process wrote.</summary>
    public string Output { get; } = output;
}

/// <summary>
/// One server process for a test: started on free 127.0.0.1 ports (or as its <see cref="ServerSpec.Placement"/> says)
/// and waited for until it listens on them itself and its probe answers. Ports are chosen before the process binds them, so another process can take one in
/// between; the server then exits saying "address already in use", and the start is tried again with fresh ports
/// (a bounded number of times). Restartable on the same ports; kill -9, SIGTERM and SIGSTOP/SIGCONT for fault
/// injection; killed on dispose.
/// </summary>
public sealed class ServerProcess : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private readonly ServerSpec _spec;
    private ManagedProcess? _process;

    private ServerProcess(ServerSpec spec)
    {
        _spec = spec;
    }

    public IReadOnlyList<int> Ports { get; private set; } = [];

    /// <summary>The address it listens on and is reached at (127.0.0.1 unless placed elsewhere).</summary>
    public string Host => _spec.Placement.Host;

    /// <summary>Where it runs (see <see cref="ServerPlacement"/>).</summary>
    public ServerPlacement Placement => _spec.Placement;

    /// <summary>How many starts the first start took: 1, or more after lost bind races.</summary>
    public int Attempts { get; private set; }

    public ManagedProcess Process => _process ?? throw new InvalidOperationException($"{_spec.Name} is not started");

    public int Pid => Process.Pid;

    public string Output => _process?.Output ?? "";

    public static async Task<ServerProcess> StartAsync(ServerSpec spec)
    {
        var server = new ServerProcess(spec);
        try
        {
            while (true)
            {
                server.Attempts++;
                server.Ports = spec.Placement.Ports is { } fixedPorts
                    ? [.. fixedPorts.Take(spec.PortCount)]
                    : [.. Enumerable.Range(0, spec.PortCount).Select(_ => spec.ChoosePort())];
                try
                {
                    await server.RestartAsync().ConfigureAwait(false);
                    return server;
                }
                catch (ServerExitedException e) when (server.Attempts < spec.MaxAttempts && spec.Placement.Ports == null && spec.IsBindFailure(e.Output))
                {
                    // Lost the bind race: another process took a port between our choice and the bind.
                }
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Starts (again) on the same ports, killing the previous process first, and waits until it is ready.</summary>
    public async Task RestartAsync()
    {
        _process?.Dispose();
        var args = _spec.Arguments(Ports).ToList();
        _process = _spec.Limits is { } limits
            ? limits.Start(_spec.Executable, args, _spec.Environment, _spec.Placement)
            : Start(_spec.Placement.Wrap(_spec.Executable, args), _spec.Environment, _spec.Placement.OutputFile);
        await WaitUntilReadyAsync(_process).ConfigureAwait(false);
    }

    /// <summary>kill -9: no chance to flush or checkpoint anything.</summary>
    public void Kill9() => _process?.KillHard();

    /// <summary>SIGTERM, then waits; true if it exited within the timeout.</summary>
    public bool Terminate(TimeSpan timeout) => _process?.Terminate(timeout) ?? true;

    /// <summary>SIGSTOP: frozen, its sockets open but unanswered, until <see cref="Resume"/>.</summary>
    public void Pause() => _process?.Pause();

    public void Resume() => _process?.Resume();

    public void Dispose() => _process?.Dispose();

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal static ManagedProcess Start((string File, IReadOnlyList<string> Args) command, IDictionary<string, string>? environment,
        string? outputFile) =>
        ManagedProcess.Start(command.File, command.Args, environment: environment, outputFile: outputFile);

    private async Task WaitUntilReadyAsync(ManagedProcess process)
    {
        var listens = (_spec.Listens?.Invoke(Ports) ?? Ports).ToList();
        using var http = _spec.Placement.ProbeClient?.Invoke() ?? new HttpClient();
        http.Timeout = TimeSpan.FromSeconds(2);
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            // Listening is checked as the process's own sockets: a probe alone could be answered by whoever won the
            // bind race, while our process is about to exit.
            var ready = listens.TrueForAll(port => ProcessResources.ListensOn(process.Pid, port)) &&
                        (_spec.Probe == null || await _spec.Probe(Ports, http).ConfigureAwait(false));
            if (process.HasExited)
            {
                throw new ServerExitedException(
                    $"{_spec.Name} exited with {process.ExitCode} during startup ({process.Description}):\n{process.Output}",
                    process.ExitCode, process.Output);
            }

            if (ready)
            {
                return;
            }

            if (elapsed.Elapsed > _spec.StartTimeout)
            {
                throw new TimeoutException($"{_spec.Name} was not ready within {_spec.StartTimeout} ({process.Description}):\n{process.Output}");
            }

            await Task.Delay(PollInterval).ConfigureAwait(false);
        }
    }
}
