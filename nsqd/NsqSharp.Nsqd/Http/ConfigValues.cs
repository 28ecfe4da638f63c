using System.Text.Json;

namespace NsqSharp.Nsqd.Http;

/// <summary>GET /config/:opt — option values by upstream's config names (flag name with '-' → '_').</summary>
internal static class ConfigValues
{
    public static byte[]? Get(NsqdOptions o, string name)
    {
        object? value = name switch
        {
            "nsqlookupd_tcp_addresses" => o.LookupdTcpAddresses,
            // upstream's lg.LogLevel is an int without a JSON marshaller: debug=1 … fatal=5
            "log_level" => LogLevelNumber(o.LogLevel),
            "tcp_address" => o.TcpAddress,
            "http_address" => o.HttpAddress,
            "https_address" => o.HttpsAddress,
            "broadcast_address" => o.BroadcastAddress,
            "broadcast_tcp_port" => o.BroadcastTcpPort,
            "broadcast_http_port" => o.BroadcastHttpPort,
            "data_path" => o.DataPath,
            "id" or "node_id" => o.NodeId, // upstream's cfg name for --node-id is "id"
            "mem_queue_size" => o.MemQueueSize,
            "max_channel_read_ahead_bytes" => o.MaxChannelReadAheadBytes,
            "max_open_segments" => o.MaxOpenSegments,
            "topic_partitions" => o.TopicPartitions,
            "max_bytes_per_file" => o.MaxBytesPerFile,
            "sync_every" => o.SyncEvery,
            "sync_timeout" => Nanos(o.SyncTimeout),
            "msg_timeout" => Nanos(o.MsgTimeout),
            "max_msg_timeout" => Nanos(o.MaxMsgTimeout),
            "max_msg_size" => o.MaxMsgSize,
            "max_body_size" => o.MaxBodySize,
            "max_req_timeout" => Nanos(o.MaxReqTimeout),
            "max_defer_timeout" => Nanos(o.EffectiveMaxDeferTimeout),
            "client_timeout" => Nanos(o.ClientTimeout),
            "max_heartbeat_interval" => Nanos(o.MaxHeartbeatInterval),
            "max_rdy_count" => o.MaxRdyCount,
            "max_output_buffer_size" => o.MaxOutputBufferSize,
            "max_output_buffer_timeout" => Nanos(o.MaxOutputBufferTimeout),
            "min_output_buffer_timeout" => Nanos(o.MinOutputBufferTimeout),
            "output_buffer_timeout" => Nanos(o.OutputBufferTimeout),
            "max_channel_consumers" => o.MaxChannelConsumers,
            "max_connections" => o.MaxConnections,
            "snappy" => o.Snappy,
            "deflate" => o.Deflate,
            "max_deflate_level" => o.MaxDeflateLevel,
            "tls_cert" => o.TlsCert,
            "tls_key" => o.TlsKey,
            "tls_client_auth_policy" => o.TlsClientAuthPolicy,
            "tls_root_ca_file" => o.TlsRootCaFile,
            // upstream stores these as numbers: TLSNotRequired/ExceptHTTP/Required and a tls.Version* constant
            "tls_required" => o.TlsRequired switch { "true" => 2, "tcp-https" => 1, _ => 0 },
            "tls_min_version" => o.TlsMinVersion switch { "ssl3.0" => 0x0300, "tls1.1" => 0x0302, "tls1.2" => 0x0303, "tls1.3" => 0x0304, _ => 0x0301 },
            "auth_http_addresses" => o.AuthHttpAddresses,
            "auth_http_request_method" => o.AuthHttpRequestMethod,
            "http_client_connect_timeout" => Nanos(o.HttpClientConnectTimeout),
            "http_client_request_timeout" => Nanos(o.HttpClientRequestTimeout),
            "statsd_address" => o.StatsdAddress,
            "statsd_interval" => Nanos(o.StatsdInterval),
            "statsd_prefix" => o.StatsdPrefix,
            "statsd_mem_stats" => o.StatsdMemStats,
            "statsd_udp_packet_size" => o.StatsdUdpPacketSize,
            "statsd_exclude_ephemeral" => o.StatsdExcludeEphemeral,
            "e2e_processing_latency_percentiles" => o.E2EProcessingLatencyPercentiles,
            "e2e_processing_latency_window_time" => Nanos(o.E2EProcessingLatencyWindowTime),
            "retention_age" => Nanos(o.RetentionAge),
            "retention_bytes" => o.RetentionBytes,
            "hard_limit_bytes" => o.HardLimitBytes,
            _ => null,
        };
        return value == null ? null : JsonSerializer.SerializeToUtf8Bytes(value, value.GetType());
    }

    private static long Nanos(TimeSpan t) => t.Ticks * 100;

    private static int LogLevelNumber(string level) => level.ToLowerInvariant() switch
    {
        "debug" => 1,
        "warn" => 3,
        "error" => 4,
        "fatal" => 5,
        _ => 2,
    };
}
