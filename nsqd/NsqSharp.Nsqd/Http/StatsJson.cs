using System.Text.Json;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Http;

/// <summary>/stats?format=json in upstream's schema (nsqd/stats.go), plus "partitions" per topic.</summary>
internal static class StatsJson
{
    public static byte[] Write(StatsSnapshot s)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("version", ProtocolConstants.CompatibleVersion);
            w.WriteString("health", s.Health);
            w.WriteNumber("start_time", s.StartTime);
            if (s.Topics == null)
            {
                w.WriteNull("topics");
            }
            else
            {
                w.WriteStartArray("topics");
                foreach (var t in s.Topics)
                {
                    WriteTopic(w, t);
                }

                w.WriteEndArray();
            }

            if (s.IncludeMemory)
            {
                WriteMemory(w);
            }

            if (s.Producers == null)
            {
                w.WriteNull("producers");
            }
            else
            {
                w.WriteStartArray("producers");
                foreach (var p in s.Producers)
                {
                    WriteClient(w, p);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteTopic(Utf8JsonWriter w, TopicStats t)
    {
        w.WriteStartObject();
        w.WriteString("topic_name", t.Name);
        w.WriteStartArray("channels");
        foreach (var c in t.Channels)
        {
            w.WriteStartObject();
            w.WriteString("channel_name", c.Name);
            w.WriteNumber("depth", c.Depth);
            w.WriteNumber("backend_depth", c.Depth);
            w.WriteNumber("in_flight_count", c.InFlightCount);
            w.WriteNumber("deferred_count", c.DeferredCount);
            w.WriteNumber("message_count", c.MessageCount);
            w.WriteNumber("requeue_count", c.RequeueCount);
            w.WriteNumber("timeout_count", c.TimeoutCount);
            w.WriteNumber("client_count", c.ClientCount);
            if (c.Clients == null)
            {
                w.WriteNull("clients");
            }
            else
            {
                w.WriteStartArray("clients");
                foreach (var client in c.Clients)
                {
                    WriteClient(w, client);
                }

                w.WriteEndArray();
            }

            w.WriteBoolean("paused", c.Paused);
            WriteLatency(w, c.E2ECount, c.E2E);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNumber("depth", t.Depth);
        w.WriteNumber("backend_depth", t.Depth);
        w.WriteNumber("message_count", t.MessageCount);
        w.WriteNumber("message_bytes", t.MessageBytes);
        w.WriteBoolean("paused", t.Paused);
        WriteLatency(w, t.E2ECount, t.E2E);
        w.WriteStartArray("partitions");
        foreach (var p in t.Partitions)
        {
            w.WriteStartObject();
            w.WriteNumber("partition", p.Partition);
            w.WriteNumber("start_offset", p.StartOffset);
            w.WriteNumber("end_offset", p.EndOffset);
            w.WriteNumber("size_bytes", p.SizeBytes);
            if (p.Replica is { } r)
            {
                // Cluster mode: end_offset is the high watermark (what consumers see); log_end what this copy holds.
                w.WriteString("role", r.Role);
                w.WriteNumber("leader_epoch", r.LeaderEpoch);
                if (r.Leader is null)
                {
                    w.WriteNull("leader");
                }
                else
                {
                    w.WriteString("leader", r.Leader);
                }

                w.WriteNumber("high_watermark", p.EndOffset);
                w.WriteNumber("log_end", p.LogEnd);
                w.WriteStartArray("isr");
                foreach (var id in r.Isr)
                {
                    w.WriteStringValue(id);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteLatency(Utf8JsonWriter w, long count, List<(double Quantile, long Value)> values)
    {
        w.WriteStartObject("e2e_processing_latency");
        w.WriteNumber("count", count);
        if (values.Count == 0)
        {
            w.WriteNull("percentiles");
        }
        else
        {
            w.WriteStartArray("percentiles");
            foreach (var (q, v) in values)
            {
                w.WriteStartObject();
                w.WriteNumber("quantile", q);
                w.WriteNumber("value", v);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    internal static void WriteClient(Utf8JsonWriter w, ClientStats c)
    {
        w.WriteStartObject();
        w.WriteString("client_id", c.ClientId);
        w.WriteString("hostname", c.Hostname);
        w.WriteString("version", "V2");
        w.WriteString("remote_address", c.RemoteAddress);
        w.WriteNumber("state", c.State);
        w.WriteNumber("ready_count", c.ReadyCount);
        w.WriteNumber("in_flight_count", c.InFlightCount);
        w.WriteNumber("message_count", c.MessageCount);
        w.WriteNumber("finish_count", c.FinishCount);
        w.WriteNumber("requeue_count", c.RequeueCount);
        w.WriteNumber("connect_ts", c.ConnectTs);
        w.WriteNumber("sample_rate", c.SampleRate);
        w.WriteBoolean("deflate", c.Deflate);
        w.WriteBoolean("snappy", c.Snappy);
        w.WriteString("user_agent", c.UserAgent);
        if (c.Authed)
        {
            w.WriteBoolean("authed", true);
            w.WriteString("auth_identity", c.AuthIdentity);
            w.WriteString("auth_identity_url", c.AuthIdentityUrl);
        }

        if (c.PubCounts.Count > 0)
        {
            w.WriteStartArray("pub_counts");
            foreach (var (topic, count) in c.PubCounts)
            {
                w.WriteStartObject();
                w.WriteString("topic", topic);
                w.WriteNumber("count", count);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteString("topology_zone", c.TopologyZone);
        w.WriteString("topology_region", c.TopologyRegion);
        w.WriteBoolean("tls", c.Tls);
        w.WriteString("tls_cipher_suite", c.TlsCipherSuite);
        w.WriteString("tls_version", c.TlsVersion);
        w.WriteString("tls_negotiated_protocol", "");
        w.WriteBoolean("tls_negotiated_protocol_is_mutual", false);
        w.WriteEndObject();
    }

    /// <summary>Go's runtime.MemStats fields (as upstream's memStats), filled from the .NET GC's view.</summary>
    internal static (string Name, long Value)[] Memory()
    {
        var info = GC.GetGCMemoryInfo();
        return
        [
            ("heap_objects", 0),
            ("heap_idle_bytes", Math.Max(0, info.TotalCommittedBytes - info.HeapSizeBytes)),
            ("heap_in_use_bytes", GC.GetTotalMemory(false)),
            ("heap_released_bytes", 0),
            ("gc_pause_usec_100", (long)(info.PauseDurations.Length > 0 ? info.PauseDurations[0].TotalMicroseconds : 0)),
            ("gc_pause_usec_99", 0),
            ("gc_pause_usec_95", 0),
            ("next_gc_bytes", info.HighMemoryLoadThresholdBytes),
            ("gc_total_runs", GC.CollectionCount(0)),
        ];
    }

    private static void WriteMemory(Utf8JsonWriter w)
    {
        w.WriteStartObject("memory");
        foreach (var (name, value) in Memory())
        {
            w.WriteNumber(name, value);
        }

        w.WriteEndObject();
    }
}
