using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace NsqSharp.Testing;

/// <summary>
/// A real child process for tests: stdout and stderr captured (bounded; apart and merged), signals for fault
/// injection (kill -9, SIGTERM, SIGSTOP/SIGCONT), killed with everything it started on dispose or when the test
/// host exits. Servers on free ports are started through <see cref="ServerProcess"/>; this is the process below it.
/// </summary>
public sealed class ManagedProcess : IDisposable
{
    private const int MaxCapturedChars = 1 << 20;

    // Children of tests that timed out are never disposed; kill them when the test host exits
    // so no broker outlives the run.
    private static readonly HashSet<ManagedProcess> Live = [];
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private StreamWriter? _outputFile;
    private int _openStreams = 2;

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

    private ManagedProcess(Process process, string description)
    {
        _process = process;
        Description = description;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The command line, for messages.</summary>
    public string Description { get; }

    /// <summary>The process's standard input (close it to send EOF).</summary>
    public StreamWriter StandardInput => _process.StandardInput;

    /// <summary>Everything the process wrote to stdout and stderr so far; once it has exited, all of it.</summary>
    public string Output => Captured(_output);

    /// <summary>What it wrote to stdout alone (once it has exited, all of it).</summary>
    public string Stdout => Captured(_stdout);

    /// <summary>What it wrote to stderr alone (once it has exited, all of it).</summary>
    public string Stderr => Captured(_stderr);

    /// <summary>Starts the process; with an output file, every line it writes is also appended there (unbounded, flushed
    /// per line, after a header line naming the command), so it survives the process and this one.</summary>
    public static ManagedProcess Start(string fileName, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, string? outputFile = null)
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
        var managed = new ManagedProcess(process, string.Join(' ', [Path.GetFileName(fileName), .. psi.ArgumentList]));
        process.OutputDataReceived += (_, e) => managed.Append(managed._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => managed.Append(managed._stderr, e.Data);
        process.Start();
        lock (Live)
        {
            Live.Add(managed);
        }

        if (outputFile != null)
        {
            // Before the reads begin, so no line comes ahead of the header.
            try
            {
                managed._outputFile = new StreamWriter(new FileStream(outputFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
                managed._outputFile.WriteLine($"=== {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} pid {process.Id}: {fileName} {string.Join(' ', psi.ArgumentList)}");
            }
            catch
            {
                managed.Dispose();
                throw;
            }
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return managed;
    }

    /// <summary>
    /// Runs a command to its end with stdin closed. Past the timeout it is killed (with what it started) and a
    /// TimeoutException carries its output. The caller disposes the exited process.
    /// </summary>
    public static async Task<ManagedProcess> RunAsync(string fileName, IEnumerable<string> args, TimeSpan timeout,
        string? workingDirectory = null)
    {
        var process = Start(fileName, args, workingDirectory);
        try
        {
            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout).ConfigureAwait(false);
            return process;
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the exit and the end of its output; past the timeout kills it and throws with what it wrote.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillHard();
            throw new TimeoutException($"{Description} did not exit within {timeout}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}");
        }
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            _ = Native.Kill(_process.Id, signal);
        }
    }

    /// <summary>SIGSTOP: the process freezes (no reads, no writes, no timers) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal(Native.SIGSTOP);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(Native.SIGCONT);

    /// <summary>kill -9 of the process and everything it started; no chance to flush or checkpoint anything.</summary>
    public void KillHard()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(10_000);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // exited meanwhile
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

        KillHard();
        lock (_output)
        {
            _outputFile?.Dispose();
            _outputFile = null;
        }

        _process.Dispose();
    }

    private string Captured(StringBuilder text)
    {
        if (_process.HasExited)
        {
            // A timed wait returns at exit, before the redirected streams are drained; the untimed one waits for
            // their end, so the final lines (a FATAL before exit, say) are never missing.
            _process.WaitForExit();
        }

        lock (_output)
        {
            return text.ToString();
        }
    }

    private void Append(StringBuilder stream, string? line)
    {
        if (line == null)
        {
            lock (_output)
            {
                if (--_openStreams == 0 && _outputFile != null)
                {
                    _outputFile.WriteLine($"=== {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} end of output");
                    _outputFile.Dispose();
                    _outputFile = null;
                }
            }

            return;
        }

        lock (_output)
        {
            _outputFile?.WriteLine(line);
            if (_output.Length < MaxCapturedChars)
            {
                _output.AppendLine(line);
            }

            if (stream.Length < MaxCapturedChars)
            {
                stream.Append(line).Append('\n');
            }
        }
    }
}
