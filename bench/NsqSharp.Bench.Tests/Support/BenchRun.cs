using System.Diagnostics;
using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Bench.Tests.Support;

/// <summary>
/// One finished nsq_bench process. stdout and stderr are kept apart, because the contract is about the
/// last line of stdout only.
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
        var clock = Stopwatch.StartNew();
        using var process = await ManagedProcess.RunAsync(RepoPaths.Executable("nsq_bench"), args, timeout, Path.GetTempPath()).ConfigureAwait(false);
        return new BenchRun(args, process.ExitCode, process.Stdout, process.Stderr, clock.Elapsed);
    }
}
