using System.Globalization;
using NsqSharp.Bench.Cli;

namespace NsqSharp.Bench.Report;

/// <summary>
/// Emits a finished run: upstream-style summary lines on stdout, the requested files, and, always as
/// the very last stdout line, the one-object JSON summary that scripts read.
/// </summary>
internal static class RunOutputs
{
    public static int Emit(BenchResult r, IRunOutputOptions o)
    {
        foreach (var line in HumanLines(r))
        {
            Console.WriteLine(line);
        }

        if (o.JsonOut is { Length: > 0 } json)
        {
            File.WriteAllText(json, ResultJson.Full(r) + "\n");
        }

        if (o.MarkdownOut is { Length: > 0 } markdown)
        {
            MarkdownRow.Append(markdown, r);
        }

        if (o.SvgOut is { Length: > 0 } svg)
        {
            foreach (var path in SvgPlots.Write(r, svg))
            {
                Console.Error.WriteLine($"wrote {path}");
            }
        }

        if (r.Error is not null)
        {
            Console.Error.WriteLine($"nsq_bench {r.Mode}: {r.Error}");
        }

        Console.WriteLine(ResultJson.SummaryLine(r));
        return r.Error is null ? 0 : 1;
    }

    /// <summary>bench_writer/bench_reader's line ("duration: 10.002s - 38.147mb/s - 200000.000ops/s - 5.000us/op"), plus our extras.</summary>
    public static IEnumerable<string> HumanLines(BenchResult r)
    {
        var name = r.Label.Length > 0 ? r.Label : r.Mode;
        if (r.Writers > 0)
        {
            yield return Line(name, "PUB", r.Published, r.PubMsgsPerSec, r.Size, r.DurationSeconds);
        }

        if (r.Readers > 0)
        {
            yield return Line(name, r.Channels > 1 ? $"SUB x{r.Channels} channels" : "SUB", r.Consumed, r.SubMsgsPerSec, r.Size, r.DurationSeconds);
        }

        foreach (var (label, s) in new[] { ("ack", r.Ack), ("end-to-end", r.EndToEnd), ("send lag", r.SendLag) })
        {
            if (s is not null)
            {
                yield return Inv($"[{name}] {label} latency (µs, {s.Count:N0} samples): p50 {s.P50Us} - p90 {s.P90Us} - p99 {s.P99Us} - p99.9 {s.P999Us} - max {s.MaxUs}");
            }
        }

        if (r.Failover is { Kills.Count: > 0 } f)
        {
            var (min, median, max) = Measure.FailoverSummary.Spread(f.FailoverMs);
            var each = string.Join(", ", f.Kills.Select(k => k.FailoverMs is { } ms ? ms.ToString("N1", CultureInfo.InvariantCulture) : "none"));
            yield return Inv($"[{name}] failover (SIGKILL of the leader -> first publish sent after it acknowledged) over {f.Kills.Count} kills: min {min:N1} - median {median:N1} - max {max:N1} ms; each: {each} ms");
            var errors = f.Errors.Count == 0 ? "none" : string.Join(", ", f.Errors.Select(e => $"{e.Key} {e.Value:N0}"));
            yield return Inv($"[{name}] publishes: {r.Published:N0} acknowledged, {f.Unanswered:N0} unanswered (connection lost), {f.PendingAtEnd:N0} unanswered at the end, errors: {errors}");
            var nodes = string.Join("; ", f.Nodes.Select(n => Inv($"{n.NodeId} {n.Acked:N0} acknowledged, {n.Errors:N0} errors, {n.Unanswered:N0} unanswered")));
            yield return $"[{name}] per node: {nodes}";
        }

        if (r.Broker is { } b)
        {
            var pids = r.BrokerPids.Count > 1 ? $"s {string.Join("+", r.BrokerPids)} (summed)" : $" {b.Pid}";
            yield return Inv($"[{name}] broker pid{pids}: cpu avg {b.CpuAvgPercent:0}% max {b.CpuMaxPercent:0}% - rss {b.RssStartMib:0.0} -> max {b.RssMaxMib:0.0} -> end {b.RssEndMib:0.0} MiB; nsq_bench cpu avg {r.ToolCpuAvgPercent:0}%, everything else {r.OtherCpuAvgPercent:0}%");
        }
    }

    private static string Line(string name, string side, long count, double rate, int size, double seconds) =>
        Inv($"[{name}] {side} {count:N0} msgs - duration: {seconds:0.000}s - {rate * size / 1048576.0:0.000}mb/s - {rate:0.000}ops/s - {(rate > 0 ? 1e6 / rate : 0):0.000}us/op");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
