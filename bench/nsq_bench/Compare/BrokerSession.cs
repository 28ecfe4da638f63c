using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Compare;

/// <summary>
/// One broker process started for a compare session: free loopback ports and a fresh data directory
/// substituted into its command line, output to a log file, ready once its TCP port accepts.
/// Stopped with SIGTERM (then SIGKILL after 10 s) and its data directory removed.
/// </summary>
internal sealed class BrokerSession : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataPath;
    private readonly LineLog _log;

    private BrokerSession(Process process, string dataPath, string tcpAddress, LineLog log)
    {
        _process = process;
        _dataPath = dataPath;
        TcpAddress = tcpAddress;
        _log = log;
    }

    public string TcpAddress { get; }

    /// <summary>Keep the broker's log after the session (set when a scenario failed, so it can be read).</summary>
    public bool KeepLog { get; set; }

    public string LogPath => _log.Path;

    /// <summary>The process listening on the TCP port (the broker even when the command is a wrapper script).</summary>
    public int Pid { get; private set; }

    public static async Task<BrokerSession> StartAsync(string name, string commandLine, TimeSpan startupTimeout)
    {
        var tcpPort = FreePort();
        var httpPort = FreePort();
        var dataPath = Directory.CreateTempSubdirectory($"nsq_bench_{name}_").FullName;
        var expanded = commandLine
            .Replace("{tcp_port}", tcpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{http_port}", httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{tcp_address}", $"127.0.0.1:{tcpPort}", StringComparison.Ordinal)
            .Replace("{http_address}", $"127.0.0.1:{httpPort}", StringComparison.Ordinal)
            .Replace("{data_path}", dataPath, StringComparison.Ordinal);
        var argv = CommandLineSplitter.Split(expanded);
        if (argv.Count == 0)
        {
            throw new FormatException($"empty command line for {name}");
        }

        var tcpAddress = commandLine.Contains("{tcp_", StringComparison.Ordinal) ? $"127.0.0.1:{tcpPort}" : FlagValue(argv, "tcp-address") ?? "127.0.0.1:4150";
        var start = new ProcessStartInfo(argv[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        var log = new LineLog(dataPath + ".log");
        log.Write("$ " + expanded);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {argv[0]}");
        process.OutputDataReceived += (_, e) => log.Write(e.Data);
        process.ErrorDataReceived += (_, e) => log.Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var session = new BrokerSession(process, dataPath, tcpAddress, log);
        try
        {
            await session.WaitUntilAcceptingAsync(startupTimeout).ConfigureAwait(false);
        }
        catch
        {
            session.KeepLog = true; // the error message points at it
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return session;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            PosixSignal.Terminate(_process.Id);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        _process.Dispose();
        _log.Dispose();
        if (!KeepLog)
        {
            File.Delete(_log.Path);
        }

        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a temp directory
        }
    }

    private async Task WaitUntilAcceptingAsync(TimeSpan timeout)
    {
        var endpoint = Wire.NsqEndpoint.Parse(TcpAddress);
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"broker exited with code {_process.ExitCode} during startup; see {LogPath}");
            }

            try
            {
                using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(endpoint).ConfigureAwait(false);
                Pid = ListeningProcessFinder.FindPid(endpoint.Port) ?? _process.Id;
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }

        throw new TimeoutException($"broker did not accept connections on {TcpAddress} within {timeout.TotalSeconds:0}s; see {LogPath}");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Value of --name=v, -name=v, --name v or -name v.</summary>
    private static string? FlagValue(List<string> argv, string name)
    {
        for (var i = 1; i < argv.Count; i++)
        {
            var a = argv[i].TrimStart('-');
            if (a.StartsWith(name + "=", StringComparison.Ordinal))
            {
                return a[(name.Length + 1)..];
            }

            if (a == name && i + 1 < argv.Count)
            {
                return argv[i + 1];
            }
        }

        return null;
    }
}
