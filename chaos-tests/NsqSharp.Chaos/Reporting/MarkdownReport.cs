using System.Globalization;
using System.Text;
using NsqSharp.Chaos.Checking;

namespace NsqSharp.Chaos.Reporting;

/// <summary>report.md: the verdict, the counts, the per-node view, samples, the faults and throughput around them.</summary>
public static class MarkdownReport
{
    public static string Render(CheckResult r, Timeline t, string historyName, string? timelineSvgName = "timeline.svg")
    {
        var md = new StringBuilder();
        md.Append(I($"# Chaos check: {(r.Valid ? "valid" : "INVALID")}\n\n"));
        md.Append(I($"History `{historyName}`: {r.Ops:N0} lines over {t.DurationSeconds:0.0} s, {r.Faults} faults.\n\n"));
        Result(md, r);
        Nodes(md, r);
        Samples(md, r);
        Faults(md, t);
        if (timelineSvgName is not null)
        {
            md.Append(I($"## Timeline\n\n![acknowledged enqueues, ack latency and faults over time]({timelineSvgName})\n"));
        }

        return md.ToString();
    }

    private static void Result(StringBuilder md, CheckResult r)
    {
        md.Append("## Result\n\n| check | count | meaning |\n|---|---:|---|\n");
        Row(md, "valid", r.Valid ? "yes" : "**no**", "lost, unexpected and order violations are all 0");
        Row(md, "attempted", N(r.Attempted), "enqueue invokes");
        Row(md, "acked", N(r.Acked), "enqueues acknowledged (ok)");
        Row(md, "failed", N(r.Failed), "enqueues that said fail");
        Row(md, "indeterminate", N(r.Indeterminate), "enqueues that said info or never completed");
        Row(md, "dequeued", N(r.Dequeued), "values received (ok dequeues)");
        Row(md, "lost", Flag(r.Lost), "acknowledged, never received");
        Row(md, "unexpected", Flag(r.Unexpected), "received, never enqueued");
        Row(md, "duplicated", N(r.Duplicated), "received more often than enqueued (allowed: at-least-once)");
        Row(md, "recovered", N(r.Recovered), "received although the enqueue was indeterminate or failed");
        Row(md, "failed_but_dequeued", N(r.FailedButDequeued), "of those, the enqueue said fail (allowed: a failed PUB may still be written)");
        Row(md, "ordered_dequeues", N(r.OrderedDequeues), "dequeues with partition and offset (order checked)");
        Row(md, "keyed_dequeues", N(r.KeyedDequeues), "dequeues with the key of their enqueue (key order checked)");
        Row(md, "order_violations", Flag(r.OrderViolations), "backwards, skipped or out of key order");
        md.Append('\n');
    }

    private static void Nodes(StringBuilder md, CheckResult r)
    {
        md.Append("## Per node\n\n");
        if (r.Nodes.Count == 0)
        {
            md.Append("The history names no nodes.\n\n");
            return;
        }

        md.Append("| node | acked enqueues | dequeues served | lost (acked here) | unexpected (served here) |\n|---|---:|---:|---:|---:|\n");
        foreach (var n in r.Nodes)
        {
            Row(md, n.Node, N(n.Acked), N(n.Dequeued), Flag(n.Lost), Flag(n.Unexpected));
        }

        md.Append('\n');
    }

    private static void Samples(StringBuilder md, CheckResult r)
    {
        if (r.LostSample.Count > 0)
        {
            md.Append(I($"## Lost (first {r.LostSample.Count} of {r.Lost:N0})\n\n| value | acked by | ack line |\n|---|---|---:|\n"));
            foreach (var v in r.LostSample)
            {
                Row(md, Code(v.Value), v.Node ?? "?", N(v.AckLine));
            }

            md.Append('\n');
        }

        if (r.UnexpectedSample.Count > 0)
        {
            md.Append(I($"## Unexpected (first {r.UnexpectedSample.Count} of {r.Unexpected:N0})\n\n| value | served by | line |\n|---|---|---:|\n"));
            foreach (var v in r.UnexpectedSample)
            {
                Row(md, Code(v.Value), v.Node ?? "?", N(v.Line));
            }

            md.Append('\n');
        }

        if (r.DuplicatedSample.Count > 0)
        {
            md.Append(I($"## Duplicated (first {r.DuplicatedSample.Count} values, {r.Duplicated:N0} extra deliveries)\n\n| value | received | enqueue attempts |\n|---|---:|---:|\n"));
            foreach (var v in r.DuplicatedSample)
            {
                Row(md, Code(v.Value), N(v.Dequeued), N(v.Attempted));
            }

            md.Append('\n');
        }

        if (r.OrderViolationSample.Count > 0)
        {
            md.Append(I($"## Order violations (first {r.OrderViolationSample.Count} of {r.OrderViolations:N0})\n\n| line | kind | channel | partition / key | detail |\n|---:|---|---|---|---|\n"));
            foreach (var v in r.OrderViolationSample)
            {
                Row(md, N(v.Line), v.KindName, v.Channel ?? "", v.Partition is { } p ? I($"partition {p}") : $"key {v.Key}", v.Detail);
            }

            md.Append('\n');
        }
    }

    private static void Faults(StringBuilder md, Timeline t)
    {
        md.Append("## Faults\n\n");
        if (t.Faults.Count == 0)
        {
            md.Append("No nemesis faults in the history.\n\n");
            return;
        }

        md.Append("Times are seconds since the first operation.\n\n| # | start | stop | duration | fault |\n|---:|---:|---:|---:|---|\n");
        for (var i = 0; i < t.Faults.Count; i++)
        {
            var f = t.Faults[i];
            Row(md, N(i + 1), S(f.StartSeconds), f.StopSeconds is { } stop ? S(stop) : "never", f.StopSeconds is { } end ? S(end - f.StartSeconds) : "", f.Label);
        }

        md.Append("\n## Throughput recovery\n\n");
        md.Append("Acknowledged enqueues per second in a window before each fault, during it, and after it ");
        md.Append("(the window is as long as the fault, between 1 and 10 s; empty where it falls outside the history).\n\n");
        md.Append("| # | fault | window s | before /s | during /s | after /s |\n|---:|---|---:|---:|---:|---:|\n");
        for (var i = 0; i < t.Recovery.Count; i++)
        {
            var rec = t.Recovery[i];
            Row(md, N(i + 1), rec.Fault.Label, S(rec.WindowSeconds), Rate(rec.Before), Rate(rec.During), Rate(rec.After));
        }

        md.Append('\n');
    }

    private static void Row(StringBuilder md, params string[] cells) =>
        md.Append("| ").Append(string.Join(" | ", cells.Select(Cell))).Append(" |\n");

    // A pipe would end the cell and a newline the row.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static string Code(string value) => value.Contains('`', StringComparison.Ordinal) ? value : $"`{value}`";

    private static string Flag(long n) => n == 0 ? "0" : $"**{N(n)}**";

    private static string Rate(double? rate) => rate is { } r ? r.ToString("N1", CultureInfo.InvariantCulture) : "";

    private static string S(double seconds) => seconds.ToString("0.000", CultureInfo.InvariantCulture);

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
