using System.Diagnostics;
using System.Text;
using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Bench.Tests.Support;

/// <summary>
/// One finished nsq_bench process. stdout and stderr are kept apart (ManagedProcess merges them),
/// because the contract is about the last line of stdout only.
/// </summary>
internal sealed record BenchRun(string[] Args, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The summary object: the last stdout line, parsed.</summary>
    public JsonElement Json
    {
        get
        {
            var lines = StdoutLines;
            if (lines.Length == 0)
            {
                throw new InvalidOperationException($"no stdout\n{Describe()}");
            }

            try
            {
                using var doc = JsonDocument.Parse(lines[^1]);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidOperationException($"last stdout line is not a JSON object\n{Describe()}");
                }

                return doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidOperationException($"last stdout line is not JSON ({e.Message})\n{Describe()}", e);
            }
        }
    }

    public string Describe() =>
        $"nsq_bench {string.Join(' ', Args)}\nexit {ExitCode} after {Elapsed.TotalSeconds:0.00}s\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    /// <summary>Runs nsq_bench to completion; on timeout kills it (and anything it started) and throws.</summary>
    public static async Task<BenchRun> RunAsync(TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(RepoPaths.Executable("nsq_bench"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        try
        {
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                // Also waits for stdout/stderr to reach EOF, so the last line is in.
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Kill(process);
                throw new TimeoutException($"nsq_bench {string.Join(' ', args)} did not exit within {timeout}\n--- stdout ---\n{Text(stdout)}\n--- stderr ---\n{Text(stderr)}");
            }

            return new BenchRun(args, process.ExitCode, Text(stdout), Text(stderr), clock.Elapsed);
        }
        finally
        {
            Kill(process);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sb)
        {
            if (sb.Length < 1 << 20)
            {
                sb.Append(line).Append('\n');
            }
        }
    }

    private static string Text(StringBuilder sb)
    {
        lock (sb)
        {
            return sb.ToString();
        }
    }
}
