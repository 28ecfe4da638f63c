using System.Globalization;
using System.Text;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Http;

/// <summary>/stats in upstream's plain-text layout (http.go printStats, stats.go ClientV2Stats.String).</summary>
internal static class StatsText
{
    public static string Write(StatsSnapshot s)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"nsqd v{ProtocolConstants.CompatibleVersion} (nsqsharp {ProtocolConstants.ProductVersion})\n");
        sb.Append(c, $"start_time {DateTimeOffset.FromUnixTimeSeconds(s.StartTime):yyyy-MM-ddTHH:mm:ssZ}\n");
        sb.Append(c, $"uptime {GoDuration(s.Uptime)}\n");
        sb.Append(c, $"\nHealth: {s.Health}\n");
        if (s.IncludeMemory)
        {
            sb.Append("\nMemory:\n");
            foreach (var (name, value) in StatsJson.Memory())
            {
                sb.Append(c, $"   {name,-25}\t{value}\n");
            }
        }

        var topics = s.Topics ?? [];
        sb.Append(topics.Count == 0 ? "\nTopics: None\n" : "\nTopics:");
        foreach (var t in topics)
        {
            sb.Append(c, $"\n{(t.Paused ? "*P " : "   ")}[{t.Name,-15}] depth: {t.Depth,-5} be-depth: {t.Depth,-5} msgs: {t.MessageCount,-8} e2e%: {Latency(t.E2E)}\n");
            foreach (var ch in t.Channels)
            {
                sb.Append(c, $"{(ch.Paused ? "   *P " : "      ")}[{ch.Name,-25}] depth: {ch.Depth,-5} be-depth: {ch.Depth,-5} inflt: {ch.InFlightCount,-4} def: {ch.DeferredCount,-4} re-q: {ch.RequeueCount,-5} timeout: {ch.TimeoutCount,-5} msgs: {ch.MessageCount,-8} e2e%: {Latency(ch.E2E)}\n");
                foreach (var client in ch.Clients ?? [])
                {
                    sb.Append("        ").Append(Client(client)).Append('\n');
                }
            }
        }

        var producers = s.Producers ?? [];
        if (producers.Count == 0)
        {
            sb.Append("\nProducers: None\n");
        }
        else
        {
            sb.Append("\nProducers:\n");
            foreach (var p in producers)
            {
                sb.Append("   ").Append(Client(p)).Append('\n');
            }
        }

        return sb.ToString();
    }

    /// <summary>Upstream's ClientV2Stats.String(): producers list their topics, consumers their counters.</summary>
    private static string Client(ClientStats s)
    {
        var c = CultureInfo.InvariantCulture;
        var colon = s.RemoteAddress.LastIndexOf(':');
        var port = colon >= 0 ? s.RemoteAddress[(colon + 1)..] : "";
        var id = $"{s.Hostname}:{port} {s.UserAgent}";
        var connected = GoDuration(TimeSpan.FromSeconds(Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - s.ConnectTs)));
        if (s.PubCounts.Count > 0)
        {
            long total = 0;
            var topics = new List<string>(s.PubCounts.Count);
            foreach (var (topic, count) in s.PubCounts)
            {
                total += count;
                topics.Add(string.Create(c, $"{topic}={count}"));
            }

            return string.Create(c, $"[V2 {id,-21}] msgs: {total,-8} topics: {string.Join(',', topics)} connected: {connected}");
        }

        return string.Create(c,
            $"[V2 {id,-21}] state: {s.State} inflt: {s.InFlightCount,-4} rdy: {s.ReadyCount,-4} fin: {s.FinishCount,-8} re-q: {s.RequeueCount,-8} msgs: {s.MessageCount,-8} connected: {connected}");
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
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{q * 100:0.#}%: {GoDuration(TimeSpan.FromTicks(v / 100))}"));
        }

        return string.Join(", ", parts);
    }

    /// <summary>Go's time.Duration.String(): "0s", "250ms", "1.5s", "2m3s", "1h0m5s".</summary>
    internal static string GoDuration(TimeSpan d)
    {
        var c = CultureInfo.InvariantCulture;
        var ticks = d.Ticks;
        if (ticks == 0)
        {
            return "0s";
        }

        var sign = ticks < 0 ? "-" : "";
        ticks = Math.Abs(ticks);
        if (ticks < TimeSpan.TicksPerSecond)
        {
            return ticks < TimeSpan.TicksPerMillisecond
                ? sign + (ticks / 10.0).ToString("0.###", c) + "µs"
                : sign + ((double)ticks / TimeSpan.TicksPerMillisecond).ToString("0.####", c) + "ms";
        }

        var hours = ticks / TimeSpan.TicksPerHour;
        var minutes = ticks % TimeSpan.TicksPerHour / TimeSpan.TicksPerMinute;
        var seconds = (double)(ticks % TimeSpan.TicksPerMinute) / TimeSpan.TicksPerSecond;
        var text = new StringBuilder(sign);
        if (hours > 0)
        {
            text.Append(c, $"{hours}h");
        }

        if (hours > 0 || minutes > 0)
        {
            text.Append(c, $"{minutes}m");
        }

        return text.Append(seconds.ToString("0.#######", c)).Append('s').ToString();
    }
}
