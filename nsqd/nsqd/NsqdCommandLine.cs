using CommandLine;
using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.Replication;
using NsqSharp.Cluster.Replication.Agent;
using NsqSharp.Common.Cli;

namespace NsqSharp.Nsqd.Host;

/// <summary>nsqd's flags, named as upstream's (Go-style "-flag=value" works too; see GoStyleArgs).</summary>
internal sealed class NsqdCommandLine
{
    /// <summary>Flags that Go treats as booleans (a bare "-snappy" means true).</summary>
    public static readonly IReadOnlySet<string> BooleanFlags = new HashSet<string>(StringComparer.Ordinal)
    {
        "snappy", "deflate", "verbose", "preallocate-segments", "version", "statsd-mem-stats", "statsd-exclude-ephemeral",
    };

    /// <summary>Upstream's config-file names that differ from the flag names (the cfg tags of nsqd's Options).</summary>
    public static readonly IReadOnlyDictionary<string, string> ConfigKeys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["nsqlookupd_tcp_addresses"] = "lookupd-tcp-address",
        ["auth_http_addresses"] = "auth-http-address",
        ["e2e_processing_latency_percentiles"] = "e2e-processing-latency-percentile",
        ["e2e_processing_latency_window_time"] = "e2e-processing-latency-window-time",
    };

    [Option("config", HelpText = "path to a config file (key = value lines; keys are flag names with '_')")]
    public string? Config { get; set; }

    [Option("version", HelpText = "print version string")]
    public string? Version { get; set; }

    [Option("log-level", Default = "info", HelpText = "set log verbosity: debug, info, warn, error, or fatal")]
    public string LogLevel { get; set; } = "info";

    [Option("log-prefix", Default = "[nsqd] ", HelpText = "log message prefix")]
    public string LogPrefix { get; set; } = "[nsqd] ";

    [Option("verbose", HelpText = "[deprecated] has no effect, use --log-level")]
    public string? Verbose { get; set; }

    [Option("node-id", HelpText = "standalone: unique part for message IDs, (int) in range [0,1024); cluster mode: this node's id " +
        "(1-64 of [a-zA-Z0-9._:-]; default: the id stored in the data path, else <broadcast-address>:<tcp-port> at first start)")]
    public string? NodeId { get; set; }

    [Option("worker-id", HelpText = "[deprecated] use --node-id")]
    public int? WorkerId { get; set; }

    [Option("tcp-address", Default = "0.0.0.0:4150", HelpText = "<addr>:<port> to listen on for TCP clients")]
    public string TcpAddress { get; set; } = "";

    [Option("http-address", Default = "0.0.0.0:4151", HelpText = "<addr>:<port> to listen on for HTTP clients")]
    public string HttpAddress { get; set; } = "";

    [Option("https-address", Default = "0.0.0.0:4152", HelpText = "<addr>:<port> to listen on for HTTPS clients")]
    public string HttpsAddress { get; set; } = "";

    [Option("broadcast-address", HelpText = "address that will be registered with lookupd (defaults to the OS hostname)")]
    public string? BroadcastAddress { get; set; }

    [Option("broadcast-tcp-port", Default = 0, HelpText = "TCP port that will be registered with lookupd (defaults to the TCP port that this nsqd is listening on)")]
    public int BroadcastTcpPort { get; set; }

    [Option("broadcast-http-port", Default = 0, HelpText = "HTTP port that will be registered with lookupd (defaults to the HTTP port that this nsqd is listening on)")]
    public int BroadcastHttpPort { get; set; }

    [Option("lookupd-tcp-address", HelpText = "lookupd TCP address (may be given multiple times)")]
    public IEnumerable<string> LookupdTcpAddresses { get; set; } = [];

    [Option("etcd-endpoints", HelpText = "cluster mode: etcd client URLs (http://127.0.0.1:2379[,...]; may be given multiple times); without it nsqd runs standalone")]
    public IEnumerable<string> EtcdEndpoints { get; set; } = [];

    [Option("cluster-name", Default = "nsqsharp", HelpText = "cluster mode: the cluster this node joins (its etcd keys live under /nsqsharp/<name>/)")]
    public string ClusterName { get; set; } = "nsqsharp";

    [Option("cluster-lease-ttl", Default = "3s", HelpText = "cluster mode: a node silent this long is failed over (its registration lease in etcd; at least 1s)")]
    public string ClusterLeaseTtl { get; set; } = "3s";

    [Option("replica-lag-time", Default = "6s", HelpText = "cluster mode: an in-sync replica that has not caught up with the leader for this long leaves the ISR")]
    public string ReplicaLagTime { get; set; } = "6s";

    [Option("replicated-ack-timeout", Default = "5s", HelpText = "cluster mode: a publish the in-sync replicas have not confirmed within this fails with E_NOT_ENOUGH_REPLICAS (and a forwarded one with the leader's answer or E_CLUSTER_UNAVAILABLE)")]
    public string ReplicatedAckTimeout { get; set; } = "5s";

    [Option("debug-unsafe-ack-leader-only", Default = false, HelpText = "DEBUG, LOSES DATA: cluster mode acknowledges a publish once the leader alone fsynced it, before any replica has it (for the chaos harness's self-test only; never in production)")]
    public bool DebugUnsafeAckLeaderOnly { get; set; }

    [Option("data-path", Default = "", HelpText = "path to store the partition logs, channel cursors and metadata (default: current directory)")]
    public string DataPath { get; set; } = "";

    [Option("mem-queue-size", Default = 10000, HelpText = "messages each channel holds in memory ahead of its clients (at most 4096; the backlog itself always lives on disk)")]
    public int MemQueueSize { get; set; }

    [Option("max-channel-read-ahead-bytes", Default = 4194304L, HelpText = "body bytes each channel holds in memory ahead of its clients (at least one message; the rest waits on disk)")]
    public long MaxChannelReadAheadBytes { get; set; }

    [Option("max-open-segments", Default = 1024, HelpText = "segment files kept open across all topics; beyond it the least recently used idle ones are closed and reopened on demand (file descriptors stay bounded however many topics exist)")]
    public int MaxOpenSegments { get; set; }

    [Option("topic-partitions", Default = 1, HelpText = "partitions of a topic created by PUB, SUB or /topic/create without partitions= (extension; 1 = upstream's behaviour)")]
    public int TopicPartitions { get; set; }

    [Option("max-bytes-per-file", Default = 104857600L, HelpText = "number of bytes per log segment before rolling")]
    public long MaxBytesPerFile { get; set; }

    [Option("preallocate-segments", Default = false, HelpText = "roll into log segments written full of zeros ahead of time (in the background): about halves fsync latency on ext4, at the cost of one extra write of each segment and up to --max-bytes-per-file of spare disk per busy partition")]
    public bool PreallocateSegments { get; set; }

    [Option("sync-every", Default = 0, HelpText = "0 (default): acknowledge a publish only after fsync. N > 0: relaxed durability, fsync every N messages or --sync-timeout")]
    public int SyncEvery { get; set; }

    [Option("sync-timeout", Default = "2s", HelpText = "with --sync-every: longest time between fsyncs")]
    public string SyncTimeout { get; set; } = "2s";

    [Option("retention-age", Default = "24h", HelpText = "keep consumed messages this long (for replay); 0 keeps them until a size limit")]
    public string RetentionAge { get; set; } = "24h";

    [Option("retention-bytes", Default = 0L, HelpText = "per-partition size beyond which consumed segments are deleted (0 = no limit)")]
    public long RetentionBytes { get; set; }

    [Option("hard-limit-bytes", Default = 0L, HelpText = "per-partition size beyond which even unconsumed segments are deleted, counted and logged (0 = never)")]
    public long HardLimitBytes { get; set; }

    [Option("max-pending-per-channel", Default = 1000000, HelpText = "unacknowledged (in-flight + deferred + queued) messages a channel tracks before it pauses reading ahead")]
    public int MaxPendingPerChannel { get; set; }

    [Option("msg-timeout", Default = "1m0s", HelpText = "default duration to wait before auto-requeing a message")]
    public string MsgTimeout { get; set; } = "60s";

    [Option("max-msg-timeout", Default = "15m0s", HelpText = "maximum duration before a message will timeout")]
    public string MaxMsgTimeout { get; set; } = "15m";

    [Option("max-msg-size", Default = 1048576L, HelpText = "maximum size of a single message in bytes")]
    public long MaxMsgSize { get; set; }

    [Option("max-body-size", Default = 5242880L, HelpText = "maximum size of a single command body")]
    public long MaxBodySize { get; set; }

    [Option("max-req-timeout", Default = "1h0m0s", HelpText = "maximum requeuing timeout for a message")]
    public string MaxReqTimeout { get; set; } = "1h";

    [Option("max-defer-timeout", Default = "0s", HelpText = "maximum DPUB/HTTP defer time (0 = --max-req-timeout)")]
    public string MaxDeferTimeout { get; set; } = "0s";

    [Option("client-timeout", Default = "1m0s", HelpText = "client read timeout before any IDENTIFY (heartbeats default to half of it)")]
    public string ClientTimeout { get; set; } = "60s";

    [Option("max-channel-consumers", Default = 0, HelpText = "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)")]
    public int MaxChannelConsumers { get; set; }

    [Option("max-connections", Default = 10000, HelpText = "maximum open TCP client connections; beyond it a new one gets E_TOO_MANY_CONNECTIONS and is closed (0 = unlimited)")]
    public int MaxConnections { get; set; }

    [Option("max-rdy-count", Default = 2500, HelpText = "maximum RDY count for a client")]
    public int MaxRdyCount { get; set; }

    [Option("max-output-buffer-size", Default = 65536, HelpText = "maximum client configurable size (in bytes) for a client output buffer")]
    public int MaxOutputBufferSize { get; set; }

    [Option("max-output-buffer-timeout", Default = "30s", HelpText = "maximum client configurable duration of time between flushing to a client")]
    public string MaxOutputBufferTimeout { get; set; } = "30s";

    [Option("min-output-buffer-timeout", Default = "25ms", HelpText = "minimum client configurable duration of time between flushing to a client")]
    public string MinOutputBufferTimeout { get; set; } = "25ms";

    [Option("output-buffer-timeout", Default = "250ms", HelpText = "default duration of time between flushing data to clients")]
    public string OutputBufferTimeout { get; set; } = "250ms";

    [Option("max-heartbeat-interval", Default = "1m0s", HelpText = "maximum client configurable duration of time between client heartbeats")]
    public string MaxHeartbeatInterval { get; set; } = "60s";

    [Option("snappy", Default = "true", HelpText = "enable snappy feature negotiation (client compression)")]
    public string Snappy { get; set; } = "true";

    [Option("deflate", Default = "true", HelpText = "enable deflate feature negotiation (client compression)")]
    public string Deflate { get; set; } = "true";

    [Option("max-deflate-level", Default = 6, HelpText = "max deflate compression level a client can negotiate (> values == > nsqd CPU usage)")]
    public int MaxDeflateLevel { get; set; }

    [Option("tls-cert", Default = "", HelpText = "path to certificate file (PEM)")]
    public string TlsCert { get; set; } = "";

    [Option("tls-key", Default = "", HelpText = "path to key file (PEM)")]
    public string TlsKey { get; set; } = "";

    [Option("tls-client-auth-policy", Default = "", HelpText = "client certificate auth policy ('require' or 'require-verify')")]
    public string TlsClientAuthPolicy { get; set; } = "";

    [Option("tls-root-ca-file", Default = "", HelpText = "path to certificate authority file")]
    public string TlsRootCaFile { get; set; } = "";

    [Option("tls-required", Default = "false", HelpText = "require TLS for client connections (true, false, tcp-https)")]
    public string TlsRequired { get; set; } = "false";

    [Option("tls-min-version", Default = "tls1.0", HelpText = "minimum SSL/TLS version acceptable ('ssl3.0', 'tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3')")]
    public string TlsMinVersion { get; set; } = "tls1.0";

    [Option("auth-http-address", HelpText = "<addr>:<port> or a full url to query auth server (may be given multiple times)")]
    public IEnumerable<string> AuthHttpAddresses { get; set; } = [];

    [Option("auth-http-request-method", Default = "get", HelpText = "HTTP method to use for auth server requests (get or post)")]
    public string AuthHttpRequestMethod { get; set; } = "get";

    [Option("http-client-connect-timeout", Default = "2s", HelpText = "timeout for HTTP connect")]
    public string HttpClientConnectTimeout { get; set; } = "2s";

    [Option("http-client-request-timeout", Default = "5s", HelpText = "timeout for HTTP request")]
    public string HttpClientRequestTimeout { get; set; } = "5s";

    [Option("statsd-address", Default = "", HelpText = "UDP <addr>:<port> of a statsd daemon for pushing stats")]
    public string StatsdAddress { get; set; } = "";

    [Option("statsd-interval", Default = "1m0s", HelpText = "duration between pushing to statsd")]
    public string StatsdInterval { get; set; } = "60s";

    [Option("statsd-prefix", Default = "nsq.%s", HelpText = "prefix used for keys sent to statsd (%s for host replacement)")]
    public string StatsdPrefix { get; set; } = "nsq.%s";

    [Option("statsd-mem-stats", Default = "true", HelpText = "toggle sending memory and GC stats to statsd")]
    public string StatsdMemStats { get; set; } = "true";

    [Option("statsd-udp-packet-size", Default = 508, HelpText = "the size in bytes of statsd UDP packets")]
    public int StatsdUdpPacketSize { get; set; }

    [Option("statsd-exclude-ephemeral", Default = "false", HelpText = "skip ephemeral topics and channels when sending stats to statsd")]
    public string StatsdExcludeEphemeral { get; set; } = "false";

    [Option("e2e-processing-latency-percentile", HelpText = "message processing time percentiles (as float (0, 1.0]) to track (may be given multiple times or comma separated '1.0,0.99,0.95')")]
    public IEnumerable<string> E2EPercentiles { get; set; } = [];

    [Option("e2e-processing-latency-window-time", Default = "10m0s", HelpText = "calculate end to end latency quantiles for this duration of time")]
    public string E2EWindow { get; set; } = "10m";

    public NsqdOptions ToOptions()
    {
        var percentiles = new List<double>();
        foreach (var p in E2EPercentiles)
        {
            foreach (var part in p.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                percentiles.Add(double.Parse(part, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return new NsqdOptions
        {
            TcpAddress = TcpAddress,
            HttpAddress = HttpAddress,
            HttpsAddress = HttpsAddress,
            BroadcastAddress = string.IsNullOrEmpty(BroadcastAddress) ? Environment.MachineName : BroadcastAddress,
            BroadcastTcpPort = BroadcastTcpPort,
            BroadcastHttpPort = BroadcastHttpPort,
            LookupdTcpAddresses = [.. LookupdTcpAddresses],
            DataPath = DataPath.Length == 0 ? Environment.CurrentDirectory : DataPath,
            NodeId = WorkerId ?? (IsCluster || NodeId is null ? 0 : ParseInt("node-id", NodeId)),
            Replicated = IsCluster,
            ReplicatedAckTimeout = GoDuration.ParseFlag("replicated-ack-timeout", ReplicatedAckTimeout),
            LogLevel = LogLevel,
            MaxMsgSize = MaxMsgSize,
            MaxBodySize = MaxBodySize,
            MaxRdyCount = MaxRdyCount,
            MsgTimeout = GoDuration.ParseFlag("msg-timeout", MsgTimeout),
            MaxMsgTimeout = GoDuration.ParseFlag("max-msg-timeout", MaxMsgTimeout),
            MaxReqTimeout = GoDuration.ParseFlag("max-req-timeout", MaxReqTimeout),
            MaxDeferTimeout = GoDuration.ParseFlag("max-defer-timeout", MaxDeferTimeout),
            MaxChannelConsumers = MaxChannelConsumers,
            MaxConnections = MaxConnections,
            ClientTimeout = GoDuration.ParseFlag("client-timeout", ClientTimeout),
            MaxHeartbeatInterval = GoDuration.ParseFlag("max-heartbeat-interval", MaxHeartbeatInterval),
            MaxOutputBufferSize = MaxOutputBufferSize,
            MaxOutputBufferTimeout = GoDuration.ParseFlag("max-output-buffer-timeout", MaxOutputBufferTimeout),
            MinOutputBufferTimeout = GoDuration.ParseFlag("min-output-buffer-timeout", MinOutputBufferTimeout),
            OutputBufferTimeout = GoDuration.ParseFlag("output-buffer-timeout", OutputBufferTimeout),
            Snappy = ParseBool("snappy", Snappy),
            Deflate = ParseBool("deflate", Deflate),
            MaxDeflateLevel = MaxDeflateLevel,
            MaxBytesPerFile = MaxBytesPerFile,
            PreallocateSegments = PreallocateSegments,
            MaxOpenSegments = MaxOpenSegments,
            SyncEvery = SyncEvery,
            SyncTimeout = GoDuration.ParseFlag("sync-timeout", SyncTimeout),
            RetentionAge = GoDuration.ParseFlag("retention-age", RetentionAge),
            RetentionBytes = RetentionBytes,
            HardLimitBytes = HardLimitBytes,
            MaxPendingPerChannel = MaxPendingPerChannel,
            MemQueueSize = MemQueueSize,
            MaxChannelReadAheadBytes = MaxChannelReadAheadBytes,
            TopicPartitions = TopicPartitions,
            TlsCert = TlsCert,
            TlsKey = TlsKey,
            TlsClientAuthPolicy = TlsClientAuthPolicy,
            TlsRootCaFile = TlsRootCaFile,
            TlsRequired = TlsRequired,
            TlsMinVersion = TlsMinVersion,
            AuthHttpAddresses = [.. AuthHttpAddresses],
            AuthHttpRequestMethod = AuthHttpRequestMethod,
            HttpClientConnectTimeout = GoDuration.ParseFlag("http-client-connect-timeout", HttpClientConnectTimeout),
            HttpClientRequestTimeout = GoDuration.ParseFlag("http-client-request-timeout", HttpClientRequestTimeout),
            StatsdAddress = StatsdAddress,
            StatsdInterval = GoDuration.ParseFlag("statsd-interval", StatsdInterval),
            StatsdPrefix = StatsdPrefix,
            StatsdMemStats = ParseBool("statsd-mem-stats", StatsdMemStats),
            StatsdUdpPacketSize = StatsdUdpPacketSize,
            StatsdExcludeEphemeral = ParseBool("statsd-exclude-ephemeral", StatsdExcludeEphemeral),
            E2EProcessingLatencyPercentiles = percentiles,
            E2EProcessingLatencyWindowTime = GoDuration.ParseFlag("e2e-processing-latency-window-time", E2EWindow),
        };
    }

    public bool IsCluster => EtcdEndpoints.Any(e => e.Length > 0);

    /// <summary>Cluster mode's settings (null standalone); the node id is resolved when the node starts.</summary>
    public ClusterAgentOptions? ToClusterOptions(NsqdOptions options)
    {
        if (!IsCluster)
        {
            return null;
        }

        var endpoints = string.Join(',', EtcdEndpoints);
        _ = EtcdMetadataStore.ParseEndpoints(endpoints); // FormatException: "invalid etcd endpoint ..."
        _ = new ClusterKeys(ClusterName); // FormatException: "invalid cluster name ..."
        if (NodeId is not null && !NodeIdFile.IsValid(NodeId))
        {
            throw new FormatException($"invalid --node-id '{NodeId}' (1-64 of [a-zA-Z0-9._:-])");
        }

        var ttl = GoDuration.ParseFlag("cluster-lease-ttl", ClusterLeaseTtl);
        if (ttl < TimeSpan.FromSeconds(1))
        {
            throw new FormatException($"--cluster-lease-ttl must be at least 1s (got {ClusterLeaseTtl})");
        }

        return new ClusterAgentOptions
        {
            EtcdEndpoints = endpoints,
            ClusterName = ClusterName,
            NodeId = NodeId,
            LeaseTtl = ttl,
            RequestTimeout = options.ReplicatedAckTimeout,
            DefaultPartitions = options.TopicPartitions,
            Replication = new ReplicationSettings
            {
                ReplicaLagTime = GoDuration.ParseFlag("replica-lag-time", ReplicaLagTime),
                UnsafeAckOnLeaderOnly = DebugUnsafeAckLeaderOnly,
            },
        };
    }

    private static int ParseInt(string flag, string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var n)
            ? n : throw new FormatException($"invalid value \"{value}\" for flag -{flag}: parse error");

    private static bool ParseBool(string flag, string value) =>
        GoStyleArgs.TryParseGoBool(value, out var on) ? on : throw new FormatException($"invalid boolean value \"{value}\" for --{flag}");
}
