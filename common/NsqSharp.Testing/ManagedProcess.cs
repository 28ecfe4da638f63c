using System.Diagnostics;
using System.Text;

namespace NsqSharp.Testing;

/// <summary>
/// A real child process for integration tests: output captured (bounded), killed on dispose,
/// and helpers to wait for an HTTP endpoint with a deadline.
/// </summary>
public sealed class ManagedProcess : IDisposable
{
    private const int MaxCapturedChars = 1 << 20;

    // Children of tests that timed out are never disposed; kill them when the test host exits
    // so no broker outlives the run.
    private static readonly HashSet<ManagedProcess> Live = [];
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    static ManagedProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            ManagedProcess[] live;
            lock (Live)
            {
                live = [.. Live];
            }

            foreach (var p in live)
            {
                p.Dispose();
            }
        };
    }

    private ManagedProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote so far; once it has exited, all of it (the last lines included).</summary>
    public string Output
    {
        get
        {
            if (_process.HasExited)
            {
                // A timed wait returns at exit, before the redirected streams are drained; the untimed one waits for
                // their end, so the final lines (a FATAL before exit, say) are never missing.
                _process.WaitForExit();
            }

            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static ManagedProcess Start(string fileName, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment != null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var managed = new ManagedProcess(process);
        process.OutputDataReceived += (_, e) => managed.Append(e.Data);
        process.ErrorDataReceived += (_, e) => managed.Append(e.Data);
        process.Start();
        lock (Live)
        {
            Live.Add(managed);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>Polls GET url until it answers 2xx, the process exits, or the timeout passes.</summary>
    public async Task WaitForHttpAsync(string url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"process exited with {_process.ExitCode} before {url} answered:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync(url).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"{url} did not answer within {timeout}:\n{Output}");
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            _ = Native.Kill(_process.Id, signal);
        }
    }

    public void KillHard()
    {
        if (!_process.HasExited)
        {
            _ = Native.Kill(_process.Id, Native.SIGKILL);
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>SIGTERM then wait; returns true if it exited within the timeout.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return true;
        }

        Signal(Native.SIGTERM);
        return _process.WaitForExit(timeout);
    }

    public void Dispose()
    {
        lock (Live)
        {
            Live.Remove(this);
        }

        try
        {
            KillHard();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line == null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < MaxCapturedChars)
            {
                _output.AppendLine(line);
            }
        }
    }
}
