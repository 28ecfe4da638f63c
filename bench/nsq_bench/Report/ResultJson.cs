using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NsqSharp.Bench.Measure;

namespace NsqSharp.Bench.Report;

/// <summary>
/// The machine-readable result. <see cref="SummaryLine"/> is the one-line object every run prints
/// last (figures only); <see cref="Full"/> adds the time series and percentile curves for --json-out.
/// </summary>
internal static class ResultJson
{
    public static string SummaryLine(BenchResult r) => Write(r, full: false, indented: false);

    public static string Full(BenchResult r) => Write(r, full: true, indented: true);

    private static string Write(BenchResult r, bool full, bool indented)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("mode", r.Mode);
            if (r.Label.Length > 0)
            {
                json.WriteString("label", r.Label);
            }

            json.WriteNumber("msgs_per_sec", Math.Round(r.MsgsPerSec, 1));
            json.WriteNumber("mib_per_sec", Math.Round(r.MibPerSec, 3));
            if (r.EndToEnd is { } e2e)
            {
                WritePercentiles(json, "", e2e);
                WritePercentiles(json, "e2e_", e2e);
            }

            if (r.Ack is { } ack)
            {
                WritePercentiles(json, "ack_", ack);
            }

            if (r.SendLag is { } lag)
            {
                json.WriteNumber("send_lag_p99_us", lag.P99Us);
                json.WriteNumber("send_lag_max_us", lag.MaxUs);
            }

            if (r.TargetRate is { } rate)
            {
                json.WriteNumber("target_rate", rate);
                json.WriteNumber("unacked", r.Unacked);
                json.WriteNumber("undelivered", r.Undelivered);
            }

            json.WriteNumber("pub_msgs_per_sec", Math.Round(r.PubMsgsPerSec, 1));
            json.WriteNumber("sub_msgs_per_sec", Math.Round(r.SubMsgsPerSec, 1));
            json.WriteNumber("published", r.Published);
            json.WriteNumber("consumed", r.Consumed);
            json.WriteNumber("duration_s", Math.Round(r.DurationSeconds, 3));
            json.WriteNumber("size", r.Size);
            json.WriteNumber("batch_size", r.BatchSize);
            json.WriteNumber("writers", r.Writers);
            json.WriteNumber("readers", r.Readers);
            json.WriteNumber("topics", r.Topics);
            json.WriteNumber("channels", r.Channels);
            WriteRoutes(json, r);
            WriteFailover(json, r.Failover);
            if (r.Broker is { } b)
            {
                json.WriteNumber("broker_pid", b.Pid);
                if (r.BrokerPids.Count > 1)
                {
                    json.WriteStartArray("broker_pids");
                    foreach (var pid in r.BrokerPids)
                    {
                        json.WriteNumberValue(pid);
                    }

                    json.WriteEndArray();
                }

                json.WriteNumber("broker_cpu_avg_pct", Math.Round(b.CpuAvgPercent, 1));
                json.WriteNumber("broker_cpu_max_pct", Math.Round(b.CpuMaxPercent, 1));
                json.WriteNumber("broker_rss_start_mib", Math.Round(b.RssStartMib, 1));
                json.WriteNumber("broker_rss_max_mib", Math.Round(b.RssMaxMib, 1));
                json.WriteNumber("broker_rss_end_mib", Math.Round(b.RssEndMib, 1));
            }

            json.WriteNumber("tool_cpu_avg_pct", Math.Round(r.ToolCpuAvgPercent, 1));
            json.WriteNumber("other_cpu_avg_pct", Math.Round(r.OtherCpuAvgPercent, 1));
            json.WriteString("target", r.Target);
            json.WriteString("started_at", r.StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("load_avg_before", r.LoadBefore);
            json.WriteString("load_avg_after", LoadAverage.Read());
            if (r.Error is not null)
            {
                json.WriteString("error", r.Error);
            }

            if (full)
            {
                WriteSeries(json, r);
                WriteDistribution(json, "e2e_distribution", r.EndToEnd);
                WriteDistribution(json, "ack_distribution", r.Ack);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Cluster mode: the lookupds asked, the nsqd addresses used, and each topic's leaders (with the partitions they lead).</summary>
    private static void WriteRoutes(Utf8JsonWriter json, BenchResult r)
    {
        if (r.Routes is not { } routes)
        {
            return;
        }

        WriteStrings(json, "lookupd_http_addresses", routes.LookupdAddresses);
        WriteStrings(json, "nsqd_tcp_addresses", r.NsqdAddresses);
        json.WriteStartArray("leaders");
        foreach (var topic in routes.Topics)
        {
            foreach (var leader in topic.Leaders)
            {
                json.WriteStartObject();
                json.WriteString("topic", topic.Topic);
                if (leader.NodeId is not null)
                {
                    json.WriteString("node_id", leader.NodeId);
                }

                json.WriteString("address", leader.Address);
                json.WriteString("source", topic.Source);
                if (topic.Partitions is not null)
                {
                    json.WriteStartArray("partitions");
                    foreach (var p in topic.PartitionsLedBy(leader))
                    {
                        json.WriteNumberValue(p);
                    }

                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }
        }

        json.WriteEndArray();
    }

    private static void WriteFailover(Utf8JsonWriter json, FailoverSummary? f)
    {
        if (f is null)
        {
            return;
        }

        json.WriteNumber("kills", f.Kills.Count);
        var (min, median, max) = FailoverSummary.Spread(f.FailoverMs);
        json.WriteNumber("failover_ms_min", min);
        json.WriteNumber("failover_ms_median", median);
        json.WriteNumber("failover_ms_max", max);
        WriteNumbers(json, "failover_ms", f.FailoverMs);
        json.WriteNumber("lookupd_ms_median", FailoverSummary.Spread(f.LookupdMs).Median);
        WriteNumbers(json, "lookupd_ms", f.LookupdMs);
        json.WriteNumber("recover_ms_median", FailoverSummary.Spread(f.RecoverMs).Median);
        WriteNumbers(json, "recover_ms", f.RecoverMs);
        json.WriteNumber("failover_rate", f.Rate);
        json.WriteNumber("failover_connections", f.Connections);
        json.WriteNumber("unanswered", f.Unanswered);
        json.WriteNumber("pending_at_end", f.PendingAtEnd);
        json.WriteStartObject("publish_errors");
        foreach (var (code, count) in f.Errors)
        {
            json.WriteNumber(code, count);
        }

        json.WriteEndObject();
        json.WriteStartArray("per_node");
        foreach (var n in f.Nodes)
        {
            json.WriteStartObject();
            json.WriteString("node_id", n.NodeId);
            json.WriteNumber("acked", n.Acked);
            json.WriteNumber("errors", n.Errors);
            json.WriteNumber("unanswered", n.Unanswered);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("failovers");
        foreach (var k in f.Kills)
        {
            json.WriteStartObject();
            json.WriteNumber("kill", k.Kill);
            json.WriteString("node_id", k.NodeId);
            json.WriteNumber("pid", k.Pid);
            json.WriteNumber("epoch_before", k.EpochBefore);
            if (k.LeaderAfter is not null)
            {
                json.WriteString("leader_after", k.LeaderAfter);
                json.WriteNumber("epoch_after", k.EpochAfter);
            }

            NumberOrNull(json, "failover_ms", k.FailoverMs);
            NumberOrNull(json, "lookupd_ms", k.LookupdMs);
            NumberOrNull(json, "recover_ms", k.RecoverMs);
            json.WriteNumber("unanswered", k.Unanswered);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void NumberOrNull(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values)
        {
            json.WriteStringValue(v);
        }

        json.WriteEndArray();
    }

    private static void WriteNumbers(Utf8JsonWriter json, string name, IEnumerable<double> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values)
        {
            json.WriteNumberValue(v);
        }

        json.WriteEndArray();
    }

    private static void WritePercentiles(Utf8JsonWriter json, string prefix, LatencySummary s)
    {
        json.WriteNumber(prefix + "p50_us", s.P50Us);
        json.WriteNumber(prefix + "p90_us", s.P90Us);
        json.WriteNumber(prefix + "p99_us", s.P99Us);
        json.WriteNumber(prefix + "p999_us", s.P999Us);
        json.WriteNumber(prefix + "max_us", s.MaxUs);
        if (prefix.Length > 0)
        {
            json.WriteNumber(prefix + "count", s.Count);
        }
    }

    private static void WriteSeries(Utf8JsonWriter json, BenchResult r)
    {
        json.WriteStartArray("series");
        foreach (var s in r.Samples)
        {
            json.WriteStartObject();
            json.WriteNumber("t", Math.Round(s.ElapsedSeconds, 3));
            for (var i = 0; i < r.SeriesNames.Count; i++)
            {
                json.WriteNumber(r.SeriesNames[i] + "_msgs_per_sec", Math.Round(s.Rates[i], 1));
                json.WriteNumber(r.SeriesNames[i] + "_total", s.Totals[i]);
            }

            if (s.BrokerCpuPercent is { } cpu)
            {
                json.WriteNumber("broker_cpu_pct", Math.Round(cpu, 1));
            }

            if (s.BrokerRssMib is { } rss)
            {
                json.WriteNumber("broker_rss_mib", Math.Round(rss, 1));
            }

            if (s.ToolCpuPercent is { } tool)
            {
                json.WriteNumber("tool_cpu_pct", Math.Round(tool, 1));
            }

            if (s.OtherCpuPercent is { } other)
            {
                json.WriteNumber("other_cpu_pct", Math.Round(other, 1));
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteDistribution(Utf8JsonWriter json, string name, LatencySummary? s)
    {
        if (s is null)
        {
            return;
        }

        json.WriteStartArray(name);
        foreach (var (p, v) in s.Distribution)
        {
            json.WriteStartObject();
            json.WriteNumber("percentile", Math.Round(p, 5));
            json.WriteNumber("us", v);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }
}
