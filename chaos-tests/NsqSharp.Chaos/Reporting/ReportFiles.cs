using NsqSharp.Chaos.Checking;

namespace NsqSharp.Chaos.Reporting;

/// <summary>Writes report.md and timeline.svg into a directory (made if missing); returns their paths.</summary>
public static class ReportFiles
{
    public const string MarkdownName = "report.md";
    public const string TimelineName = "timeline.svg";

    public static IReadOnlyList<string> Write(string outDir, CheckResult result, Timeline timeline, string historyName)
    {
        Directory.CreateDirectory(outDir);
        var svg = Path.Combine(outDir, TimelineName);
        File.WriteAllText(svg, TimelineSvg.Render(timeline));
        var markdown = Path.Combine(outDir, MarkdownName);
        File.WriteAllText(markdown, MarkdownReport.Render(result, timeline, historyName, TimelineName));
        return [markdown, svg];
    }
}
