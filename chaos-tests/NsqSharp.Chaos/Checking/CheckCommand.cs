using NsqSharp.Chaos.History;
using NsqSharp.Chaos.Reporting;

namespace NsqSharp.Chaos.Checking;

/// <summary>
/// nsq_chaos --check=HISTORY [--out=DIR]: checks a recorded history, writes report.md and timeline.svg into
/// DIR when given, prints a short summary and, last, the one-line JSON verdict.
/// </summary>
public static class CheckCommand
{
    public const int Valid = 0;
    public const int Invalid = 1;
    public const int Unreadable = 2;

    public static int Run(string historyPath, string? outDir, TextWriter stdout, TextWriter stderr)
    {
        if (string.IsNullOrWhiteSpace(historyPath))
        {
            return Fail("no history file given");
        }

        HistoryCheckOutcome outcome;
        try
        {
            outcome = HistoryCheck.Run(HistoryReader.ReadFile(historyPath));
        }
        catch (HistoryFormatException e)
        {
            return Fail($"{historyPath} {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot read {historyPath}: {e.Message}");
        }

        foreach (var line in CheckSummary.Lines(outcome.Result))
        {
            stdout.WriteLine(line);
        }

        if (!string.IsNullOrEmpty(outDir))
        {
            try
            {
                foreach (var path in ReportFiles.Write(outDir, outcome.Result, outcome.Timeline, Path.GetFileName(historyPath)))
                {
                    stdout.WriteLine($"wrote {path}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The verdict stands without the report; say so and keep the JSON line last.
                stderr.WriteLine($"nsq_chaos: check: cannot write the report into {outDir}: {e.Message}");
            }
        }

        stdout.WriteLine(CheckResultJson.Line(outcome.Result));
        return outcome.Result.Valid ? Valid : Invalid;

        int Fail(string error)
        {
            stderr.WriteLine($"nsq_chaos: check: {error}");
            stdout.WriteLine(CheckResultJson.ErrorLine(error));
            return Unreadable;
        }
    }
}
