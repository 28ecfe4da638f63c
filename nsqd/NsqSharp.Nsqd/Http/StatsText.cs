using System.Globalization;
using System.Text;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Http;

/// <summary>/stats in upstream's plain-text layout (what `curl /stats` shows).</summary>
internal static class StatsText
{
    public static string Write(StatsSnapshot s)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"nsqd v{ProtocolConstants.CompatibleVersion} (nsqsharp {ProtocolConstants.ProductVersion})\n");
        sb.Append(c, $"start_time {DateTimeOffset.FromUnixTimeSeconds(s.StartTime):yyyy-MM-ddTHH:mm:ssZ}\n");
        sb.Append(c, $"uptime {TimeSpan.FromSeconds(s.UptimeSeconds)}\n");
        sb.Append(c, $"\nHealth: {s.Health}\n");
        if (s.IncludeMemory)
        {
            sb.Append("\nMemory:\n");
            sb.Append(c, $"   {"heap_in_use_bytes",-25}\t{GC.GetTotalMemory(false)}\n");
            sb.Append(c, $"   {"gc_total_runs",-25}\t{GC.CollectionCount(0)}\n");
        }

        sb.Append(s.Topics.Count == 0 ? "\nTopics: None\n" : "\nTopics:");
        foreach (var t in s.Topics)
        {
            sb.Append(c, $"\n{(t.Paused ? "*P " : "   ")}[{t.Name,-15}] depth: {t.Depth,-5} be-depth: {t.Depth,-5} msgs: {t.MessageCount,-8} e2e%: {Latency(t.E2E)}\n");
            foreach (var ch in t.Channels)
            {
                sb.Append(c, $"{(ch.Paused ? "   *P " : "      ")}[{ch.Name,-25}] depth: {ch.Depth,-5} be-depth: {ch.Depth,-5} inflt: {ch.InFlightCount,-4} def: {ch.DeferredCount,-4} re-q: {ch.RequeueCount,-5} timeout: {ch.TimeoutCount,-5} msgs: {ch.MessageCount,-8} e2e%: {Latency(ch.E2E)}\n");
                foreach (var client in ch.Clients)
                {
                    sb.Append(c, $"        [V2 {client.ClientId,-21}] state: {client.State} inflt: {client.InFlightCount,-4} rdy: {client.ReadyCount,-4} fin: {client.FinishCount,-8} re-q: {client.RequeueCount,-8} msgs: {client.MessageCount,-8} connected: {DateTimeOffset.UtcNow.ToUnixTimeSeconds() - client.ConnectTs}s\n");
                }
            }
        }

        if (s.Producers != null)
        {
            sb.Append(s.Producers.Count == 0 ? "\nProducers: None\n" : "\nProducers:");
            foreach (var p in s.Producers)
            {
                sb.Append(c, $"\n   [V2 {p.ClientId,-21}] msgs: {p.MessageCount,-8} connected: {DateTimeOffset.UtcNow.ToUnixTimeSeconds() - p.ConnectTs}s");
                foreach (var (topic, count) in p.PubCounts)
                {
                    sb.Append(c, $"\n      [{topic,-15}] msgs: {count,-8}");
                }
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    private static string Latency(List<(double Quantile, long Value)> values)
    {
        if (values.Count == 0)
        {
            return "";
        }

        var parts = new List<string>(values.Count);
        foreach (var (q, v) in values)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{q * 100:0.#}%: {TimeSpan.FromTicks(v / 100)}"));
        }

        return string.Join(", ", parts);
    }
}
