using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Report;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Compare;

/// <summary>
/// `compare`: for each round, a fresh session of each broker (order alternating A B / B A so drift
/// and warm caches do not favour one side) runs every scenario; medians per broker and B/A ratios follow.
/// </summary>
internal static class CompareRunner
{
    private sealed record Run(string Broker, string Scenario, int Round, BenchResult Result);

    public static async Task<int> RunAsync(CompareCommandOptions o)
    {
        var scenarios = o.Scenarios.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var s in scenarios)
        {
            if (!ScenarioCatalog.Names.Contains(s))
            {
                throw new FormatException($"unknown scenario \"{s}\" (known: {string.Join(", ", ScenarioCatalog.Names)})");
            }
        }

        if (o.Rounds < 1)
        {
            throw new FormatException("--rounds must be >= 1");
        }

        var startup = GoDuration.Parse(o.StartupTimeout);
        var brokers = new List<(string Name, string Command)> { (o.AName, o.ACommand) };
        var bMissing = MissingReason(o.BCommand);
        if (bMissing is null)
        {
            brokers.Add((o.BName, o.BCommand));
        }
        else
        {
            Console.Error.WriteLine($"{o.BName}: not measured here ({bMissing})");
        }

        var runs = new List<Run>();
        var failures = 0;
        for (var round = 1; round <= o.Rounds; round++)
        {
            var order = round % 2 == 1 ? brokers : Enumerable.Reverse(brokers).ToList();
            foreach (var (name, command) in order)
            {
                Console.Error.WriteLine($"round {round}/{o.Rounds}: starting {name}");
                BrokerSession session;
                try
                {
                    session = await BrokerSession.StartAsync(name, command, startup).ConfigureAwait(false);
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
                {
                    Console.Error.WriteLine($"{name}: {e.Message}");
                    failures++;
                    continue;
                }

                await using (session.ConfigureAwait(false))
                {
                    foreach (var scenario in scenarios)
                    {
                        var result = await ScenarioCatalog.RunAsync(scenario, session.TcpAddress, session.Pid, o, $"{name} {scenario}").ConfigureAwait(false);
                        foreach (var line in RunOutputs.HumanLines(result))
                        {
                            Console.Error.WriteLine(line);
                        }

                        if (result.Error is not null)
                        {
                            Console.Error.WriteLine($"{name} {scenario}: {result.Error} (broker log: {session.LogPath})");
                            session.KeepLog = true;
                            failures++;
                        }

                        runs.Add(new Run(name, scenario, round, result));
                        if (o.JsonOut is { Length: > 0 } jsonOut)
                        {
                            await File.AppendAllTextAsync(jsonOut, ResultJson.SummaryLine(result) + "\n").ConfigureAwait(false);
                        }
                    }
                }
            }
        }

        var table = Table(o, scenarios, runs, bMissing);
        Console.WriteLine(table);
        if (o.MarkdownOut is { Length: > 0 } markdown)
        {
            await File.WriteAllTextAsync(markdown, table).ConfigureAwait(false);
        }

        Console.WriteLine(SummaryJson(o, scenarios, runs, bMissing));
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Why broker B cannot be measured, or null when its executable exists.</summary>
    private static string? MissingReason(string command)
    {
        if (string.IsNullOrWhiteSpace(command))
        {
            return "no --b-cmd given; pass an upstream nsqd command line to measure it";
        }

        var exe = CommandLineSplitter.Split(command)[0];
        if (exe.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(exe) ? null : $"{exe} does not exist";
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, exe)));
        return onPath ? null : $"{exe} is not on PATH";
    }

    private static double? Median(List<Run> runs, string broker, string scenario, Func<BenchResult, double?> pick)
    {
        var values = runs.Where(r => r.Broker == broker && r.Scenario == scenario && r.Result.Error is null)
            .Select(r => pick(r.Result)).Where(v => v is not null).Select(v => v!.Value).ToList();
        return values.Count == 0 ? null : SummaryTable.Median(values);
    }

    private static IEnumerable<(string Metric, Func<BenchResult, double?> Pick, bool LowerIsBetter)> Metrics(string scenario)
    {
        yield return ("msgs/s", r => r.MsgsPerSec, false);
        if (scenario == "pubsub")
        {
            yield return ("pub msgs/s", r => r.PubMsgsPerSec, false);
        }

        if (scenario == "latency")
        {
            yield return ("e2e p50 µs", r => r.EndToEnd?.P50Us, true);
            yield return ("e2e p99 µs", r => r.EndToEnd?.P99Us, true);
            yield return ("e2e p99.9 µs", r => r.EndToEnd?.P999Us, true);
            yield return ("ack p99 µs", r => r.Ack?.P99Us, true);
        }

        yield return ("broker CPU %", r => r.Broker?.CpuAvgPercent, true);
        yield return ("broker RSS max MiB", r => r.Broker?.RssMaxMib, true);
    }

    private static string Table(CompareCommandOptions o, string[] scenarios, List<Run> runs, string? bMissing)
    {
        static string F(double? v) => v is { } x ? x.ToString(x >= 100 ? "N0" : "0.0", CultureInfo.InvariantCulture) : "—";
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"| scenario | metric | {o.AName} (median of {o.Rounds}) | {o.BName} | {o.BName} / {o.AName} |\n");
        sb.Append("|---|---|---:|---:|---:|\n");
        foreach (var scenario in scenarios)
        {
            foreach (var (metric, pick, _) in Metrics(scenario))
            {
                var a = Median(runs, o.AName, scenario, pick);
                var b = bMissing is null ? Median(runs, o.BName, scenario, pick) : null;
                var ratio = a is > 0 && b is { } bv ? (bv / a.Value).ToString("0.00", CultureInfo.InvariantCulture) + "x" : "—";
                sb.Append(CultureInfo.InvariantCulture, $"| {scenario} | {metric} | {F(a)} | {(bMissing is null ? F(b) : "not measured here")} | {ratio} |\n");
            }
        }

        return sb.ToString();
    }

    private static string SummaryJson(CompareCommandOptions o, string[] scenarios, List<Run> runs, string? bMissing)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("mode", "compare");
            json.WriteString("a_name", o.AName);
            json.WriteString("b_name", o.BName);
            json.WriteBoolean("b_measured", bMissing is null);
            if (bMissing is not null)
            {
                json.WriteString("b_not_measured_reason", bMissing);
            }

            json.WriteNumber("rounds", o.Rounds);
            foreach (var scenario in scenarios)
            {
                json.WriteStartObject(scenario);
                WriteSide(json, "a_", runs, o.AName, scenario);
                if (bMissing is null)
                {
                    WriteSide(json, "b_", runs, o.BName, scenario);
                    var a = Median(runs, o.AName, scenario, r => r.MsgsPerSec);
                    var b = Median(runs, o.BName, scenario, r => r.MsgsPerSec);
                    if (a is > 0 && b is { } bv)
                    {
                        json.WriteNumber("ratio_msgs_per_sec_b_over_a", Math.Round(bv / a.Value, 3));
                    }
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteSide(Utf8JsonWriter json, string prefix, List<Run> runs, string broker, string scenario)
    {
        void Number(string key, double? v)
        {
            if (v is { } x)
            {
                json.WriteNumber(prefix + key, Math.Round(x, 1));
            }
        }

        Number("msgs_per_sec", Median(runs, broker, scenario, r => r.MsgsPerSec));
        Number("mib_per_sec", Median(runs, broker, scenario, r => r.MibPerSec));
        if (scenario == "latency")
        {
            Number("p50_us", Median(runs, broker, scenario, r => r.EndToEnd?.P50Us));
            Number("p90_us", Median(runs, broker, scenario, r => r.EndToEnd?.P90Us));
            Number("p99_us", Median(runs, broker, scenario, r => r.EndToEnd?.P99Us));
            Number("p999_us", Median(runs, broker, scenario, r => r.EndToEnd?.P999Us));
            Number("max_us", Median(runs, broker, scenario, r => r.EndToEnd?.MaxUs));
        }

        Number("broker_cpu_avg_pct", Median(runs, broker, scenario, r => r.Broker?.CpuAvgPercent));
        Number("broker_rss_max_mib", Median(runs, broker, scenario, r => r.Broker?.RssMaxMib));
    }
}
