using System.Globalization;

namespace NsqSharp.Bench.Report;

/// <summary>One run as a markdown table row (appended to --markdown-out, header first when the file is new).</summary>
internal static class MarkdownRow
{
    public const string Header =
        "| run | mode | msgs/s | MiB/s | pub msgs/s | sub msgs/s | p50 µs | p99 µs | p99.9 µs | max µs | broker CPU avg | broker RSS start→max MiB | tool CPU | other CPU | load before |\n" +
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|\n";

    public static string Row(BenchResult r)
    {
        static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
        static string D(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        var e2e = r.EndToEnd;
        return "| " + string.Join(" | ",
            r.Label.Length > 0 ? r.Label : r.Mode,
            r.Mode,
            N(r.MsgsPerSec),
            D(r.MibPerSec),
            N(r.PubMsgsPerSec),
            N(r.SubMsgsPerSec),
            e2e is null ? "" : D(e2e.P50Us),
            e2e is null ? "" : D(e2e.P99Us),
            e2e is null ? "" : D(e2e.P999Us),
            e2e is null ? "" : D(e2e.MaxUs),
            r.Broker is null ? "n/a" : D(r.Broker.CpuAvgPercent) + "%",
            r.Broker is null ? "n/a" : $"{D(r.Broker.RssStartMib)}→{D(r.Broker.RssMaxMib)}",
            D(r.ToolCpuAvgPercent) + "%",
            D(r.OtherCpuAvgPercent) + "%",
            r.LoadBefore) + " |\n";
    }

    public static void Append(string path, BenchResult r)
    {
        var isNew = !File.Exists(path) || new FileInfo(path).Length == 0;
        File.AppendAllText(path, (isNew ? Header : "") + Row(r));
    }
}
