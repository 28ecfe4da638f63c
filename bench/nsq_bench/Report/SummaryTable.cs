using System.Globalization;
using System.Text;
using System.Text.Json;
using NsqSharp.Bench.Cli;

namespace NsqSharp.Bench.Report;

/// <summary>
/// The `table` verb: groups result lines by label (or mode) in first-seen order and prints
/// min / median / max of the headline figures — how docs/BENCHMARKS.md tables are made.
/// </summary>
internal static class SummaryTable
{
    public static int Run(TableOptions o)
    {
        var lines = new List<string>();
        var files = o.Files.ToList();
        if (files.Count == 0 || files.Contains("-"))
        {
            string? line;
            while ((line = Console.In.ReadLine()) != null)
            {
                lines.Add(line);
            }
        }

        foreach (var f in files.Where(f => f != "-"))
        {
            lines.AddRange(File.ReadAllLines(f));
        }

        var groups = new List<(string Name, List<JsonElement> Runs)>();
        foreach (var line in lines)
        {
            var trimmed = line.Trim();
            if (!trimmed.StartsWith('{') || !trimmed.EndsWith('}'))
            {
                continue;
            }

            JsonElement run;
            try
            {
                run = JsonDocument.Parse(trimmed).RootElement.Clone();
            }
            catch (JsonException)
            {
                continue;
            }

            if (!run.TryGetProperty("msgs_per_sec", out _))
            {
                continue;
            }

            var name = Text(run, "label") is { Length: > 0 } label ? label : Text(run, "mode") ?? "?";
            var group = groups.Find(g => g.Name == name);
            if (group.Runs is null)
            {
                group = (name, []);
                groups.Add(group);
            }

            group.Runs.Add(run);
        }

        Console.Write(Render(groups));
        return groups.Count > 0 ? 0 : 1;
    }

    public static string Render(IReadOnlyList<(string Name, List<JsonElement> Runs)> groups)
    {
        var hasLatency = groups.Any(g => g.Runs.Any(r => r.TryGetProperty("p99_us", out _)));
        var sb = new StringBuilder();
        sb.Append("| scenario | runs | msgs/s min / median / max | MiB/s median | broker CPU avg (median) | broker RSS start → max MiB (worst) | other CPU (max) |");
        sb.Append(hasLatency ? " e2e p50 / p99 / p99.9 / max µs (median) | ack p99 µs (median) |\n" : "\n");
        sb.Append("|---|---:|---:|---:|---:|---|---:|");
        sb.Append(hasLatency ? "---:|---:|\n" : "\n");
        foreach (var (name, runs) in groups)
        {
            var rates = Values(runs, "msgs_per_sec");
            var errors = runs.Count(r => r.TryGetProperty("error", out _));
            sb.Append("| ").Append(name).Append(errors > 0 ? $" ({errors} failed)" : "").Append(" | ").Append(runs.Count).Append(" | ");
            sb.Append(N(rates.Min())).Append(" / ").Append(N(Median(rates))).Append(" / ").Append(N(rates.Max())).Append(" | ");
            sb.Append(D(Median(Values(runs, "mib_per_sec")))).Append(" | ");
            var cpu = Values(runs, "broker_cpu_avg_pct");
            sb.Append(cpu.Count == 0 ? "n/a" : D(Median(cpu)) + "%").Append(" | ");
            var rssStart = Values(runs, "broker_rss_start_mib");
            var rssMax = Values(runs, "broker_rss_max_mib");
            sb.Append(rssMax.Count == 0 ? "n/a" : $"{D(rssStart.Min())} → {D(rssMax.Max())}").Append(" | ");
            var other = Values(runs, "other_cpu_avg_pct");
            sb.Append(other.Count == 0 ? "n/a" : D(other.Max()) + "%").Append(" |");
            if (hasLatency)
            {
                var p = new[] { "p50_us", "p99_us", "p999_us", "max_us" }.Select(k => Values(runs, k)).ToList();
                sb.Append(' ').Append(p[0].Count == 0 ? "" : string.Join(" / ", p.Select(v => D(Median(v))))).Append(" | ");
                var ack = Values(runs, "ack_p99_us");
                sb.Append(ack.Count == 0 ? "" : D(Median(ack))).Append(" |");
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    private static List<double> Values(List<JsonElement> runs, string key) =>
        runs.Where(r => r.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number).Select(r => r.GetProperty(key).GetDouble()).ToList();

    public static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.OrderBy(v => v).ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string? Text(JsonElement e, string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string D(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
}
