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

        var failover = groups.Where(g => g.Runs.Exists(r => Text(r, "mode") == "failover")).ToList();
        var load = groups.Except(failover).ToList();
        if (load.Count > 0)
        {
            Console.Write(Render(load));
        }

        var latency = load.Where(g => g.Runs.Exists(r => r.TryGetProperty("ack_p99_us", out _))).ToList();
        if (latency.Count > 0)
        {
            Console.WriteLine();
            Console.Write(RenderLatency(latency));
        }

        if (failover.Count > 0)
        {
            Console.WriteLine();
            Console.Write(RenderFailover(failover));
        }

        if (o.Ratio.Length > 0)
        {
            Console.WriteLine();
            Console.Write(RenderRatios(groups, o.Ratio));
        }

        return groups.Count > 0 ? 0 : 1;
    }

    /// <summary>Latency runs: each percentile as the median over runs with the runs' range, ack first (publish → OK), then end-to-end.</summary>
    public static string RenderLatency(IReadOnlyList<(string Name, List<JsonElement> Runs)> groups)
    {
        string[] keys = ["ack_p50_us", "ack_p90_us", "ack_p99_us", "ack_p999_us", "ack_max_us", "e2e_p50_us", "e2e_p99_us", "e2e_p999_us"];
        var sb = new StringBuilder();
        sb.Append("| scenario | runs | ack p50 µs | ack p90 µs | ack p99 µs | ack p99.9 µs | ack max µs | e2e p50 µs | e2e p99 µs | e2e p99.9 µs |\n");
        sb.Append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var (name, runs) in groups)
        {
            sb.Append("| ").Append(name).Append(" | ").Append(runs.Count).Append(" |");
            foreach (var key in keys)
            {
                var v = Values(runs, key);
                sb.Append(' ').Append(v.Count == 0 ? "" : v.Count == 1 ? N(v[0]) : $"{N(Median(v))} ({N(v.Min())}–{N(v.Max())})").Append(" |");
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>Failover runs: min / median / max over every kill of every run, each kill's time, lookupd's and the rejoin's medians.</summary>
    public static string RenderFailover(IReadOnlyList<(string Name, List<JsonElement> Runs)> groups)
    {
        var sb = new StringBuilder();
        sb.Append("| scenario | kills | failover ms min / median / max | each kill, ms | lookupd names the new leader, ms median | back in the ISR after the restart, ms median | publish errors |\n");
        sb.Append("|---|---:|---:|---|---:|---:|---|\n");
        foreach (var (name, runs) in groups)
        {
            var each = runs.SelectMany(r => Array(r, "failover_ms")).ToList();
            var errors = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var r in runs.Where(r => r.TryGetProperty("publish_errors", out var e) && e.ValueKind == JsonValueKind.Object))
            {
                foreach (var e in r.GetProperty("publish_errors").EnumerateObject())
                {
                    errors[e.Name] = errors.GetValueOrDefault(e.Name) + e.Value.GetDouble();
                }
            }

            var failed = runs.Count(r => r.TryGetProperty("error", out _));
            sb.Append("| ").Append(name).Append(failed > 0 ? $" ({failed} failed)" : "").Append(" | ").Append(each.Count).Append(" | ");
            sb.Append(each.Count == 0 ? "" : $"{N(each.Min())} / {N(Median(each))} / {N(each.Max())}").Append(" | ");
            sb.Append(string.Join(", ", each.Select(N))).Append(" | ");
            var lookupd = runs.SelectMany(r => Array(r, "lookupd_ms")).ToList();
            sb.Append(lookupd.Count == 0 ? "" : N(Median(lookupd))).Append(" | ");
            var recover = runs.SelectMany(r => Array(r, "recover_ms")).ToList();
            sb.Append(recover.Count == 0 ? "" : N(Median(recover))).Append(" | ");
            sb.Append(errors.Count == 0 ? "none" : string.Join(", ", errors.Select(e => $"{e.Key} {N(e.Value)}"))).Append(" |\n");
        }

        return sb.ToString();
    }

    /// <summary>"A vs B[; C vs D]": A's median msgs/s over B's, and the per-round ratios (runs paired in order).</summary>
    public static string RenderRatios(IReadOnlyList<(string Name, List<JsonElement> Runs)> groups, string spec)
    {
        var sb = new StringBuilder();
        foreach (var pair in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split(" vs ", 2, StringSplitOptions.TrimEntries);
            var a = parts.Length == 2 ? groups.FirstOrDefault(g => g.Name == parts[0]).Runs : null;
            var b = parts.Length == 2 ? groups.FirstOrDefault(g => g.Name == parts[1]).Runs : null;
            if (a is null || b is null)
            {
                sb.Append("ratio \"").Append(pair).Append("\": no such labels (want \"<label> vs <label>\")\n");
                continue;
            }

            var ra = Values(a.Where(r => !r.TryGetProperty("error", out _)).ToList(), "msgs_per_sec");
            var rb = Values(b.Where(r => !r.TryGetProperty("error", out _)).ToList(), "msgs_per_sec");
            if (ra.Count == 0 || rb.Count == 0 || Median(rb) <= 0)
            {
                sb.Append(parts[0]).Append(" vs ").Append(parts[1]).Append(": not measured (no successful runs)\n");
                continue;
            }

            var rounds = ra.Zip(rb, (x, y) => y > 0 ? x / y * 100 : 0).ToList();
            sb.Append(parts[0]).Append(" / ").Append(parts[1]).Append(": ").Append(D(Median(ra) / Median(rb) * 100)).Append("% of the median msgs/s (")
                .Append(N(Median(ra))).Append(" / ").Append(N(Median(rb))).Append("); per round: ")
                .Append(string.Join(", ", rounds.Select(x => D(x) + "%"))).Append('\n');
        }

        return sb.ToString();
    }

    private static IEnumerable<double> Array(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetDouble())
            : [];

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
