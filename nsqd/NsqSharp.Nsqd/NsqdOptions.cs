using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd;

/// <summary>
/// Every nsqd setting, named after upstream's flags (the host maps --flag-name to these).
/// Durations are TimeSpans here; on the wire and in /config they follow upstream's units.
/// </summary>
public sealed class NsqdOptions
{
    public string TcpAddress { get; set; } = "0.0.0.0:4150";
    public string HttpAddress { get; set; } = "0.0.0.0:4151";
    public string HttpsAddress { get; set; } = "0.0.0.0:4152";
    public string BroadcastAddress { get; set; } = Environment.MachineName;
    public int BroadcastTcpPort { get; set; }
    public int BroadcastHttpPort { get; set; }
    public List<string> LookupdTcpAddresses { get; set; } = [];
    public string DataPath { get; set; } = ".";
    public int NodeId { get; set; }
    public string LogLevel { get; set; } = "info";

    // Message and body limits.
    public long MaxMsgSize { get; set; } = 1024 * 1024;
    public long MaxBodySize { get; set; } = 5 * 1024 * 1024;
    public int MaxRdyCount { get; set; } = 2500;
    public TimeSpan MsgTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public TimeSpan MaxMsgTimeout { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan MaxReqTimeout { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Upper bound for DPUB and HTTP defer (upstream PR #1504); 0 means use MaxReqTimeout.</summary>
    public TimeSpan MaxDeferTimeout { get; set; } = TimeSpan.Zero;
    public int MaxChannelConsumers { get; set; }

    // Client connection negotiation.
    public TimeSpan ClientTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public TimeSpan MaxHeartbeatInterval { get; set; } = TimeSpan.FromSeconds(60);
    public int MaxOutputBufferSize { get; set; } = 64 * 1024;
    public TimeSpan MaxOutputBufferTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan MinOutputBufferTimeout { get; set; } = TimeSpan.FromMilliseconds(25);
    public TimeSpan OutputBufferTimeout { get; set; } = TimeSpan.FromMilliseconds(250);
    public bool Snappy { get; set; } = true;
    public bool Deflate { get; set; } = true;
    public int MaxDeflateLevel { get; set; } = 6;
    /// <summary>
    /// Open TCP client connections beyond which a new one gets a fatal E_TOO_MANY_CONNECTIONS frame and is
    /// closed; 0 = no limit. The default matches nsqlookupd's and bounds idle-connection memory (~20 KB each).
    /// </summary>
    public int MaxConnections { get; set; } = 10_000;

    // Storage and durability.
    public long MaxBytesPerFile { get; set; } = 100 * 1024 * 1024;

    /// <summary>--preallocate-segments: see <see cref="PartitionLogOptions.PreallocateSegments"/>.</summary>
    public bool PreallocateSegments { get; set; }

    /// <summary>0 (default): every publish is acknowledged only after fsync. N &gt; 0: fsync every N messages or SyncTimeout.</summary>
    public int SyncEvery { get; set; }
    public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan RetentionAge { get; set; } = TimeSpan.FromHours(24);
    public long RetentionBytes { get; set; }
    public long HardLimitBytes { get; set; }
    /// <summary>Unacknowledged messages a channel keeps track of before it stops reading ahead (in-flight + deferred + queued).</summary>
    public int MaxPendingPerChannel { get; set; } = 1_000_000;
    /// <summary>Upstream --mem-queue-size: here the size of each channel's in-memory read-ahead queue (the backlog stays on disk).</summary>
    public int MemQueueSize { get; set; } = 10000;
    /// <summary>Body bytes each channel may hold read ahead in memory, waiting for a client (at least one message always fits).</summary>
    public long MaxChannelReadAheadBytes { get; set; } = 4 * 1024 * 1024;
    /// <summary>Partitions of a topic created implicitly (PUB, SUB, /topic/create without partitions=).</summary>
    public int TopicPartitions { get; set; } = 1;
    /// <summary>Upper bound of partitions per topic (partition ids live in the top 16 bits of a message id).</summary>
    public const int MaxPartitions = 1024;
    /// <summary>The broker's clock: in-flight timeouts, deferred due times, housekeeping ticks (tests pass a fake).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;
    /// <summary>Segment files kept open across all partition logs (--max-open-segments): idle handles beyond it are
    /// closed least recently used first and reopened on demand, so descriptors do not grow with the topic count.</summary>
    public int MaxOpenSegments { get; set; } = SegmentHandleCache.DefaultBudget;

    // TLS and auth.
    public string TlsCert { get; set; } = "";
    public string TlsKey { get; set; } = "";
    public string TlsClientAuthPolicy { get; set; } = "";
    public string TlsRootCaFile { get; set; } = "";
    public string TlsRequired { get; set; } = "false";
    public string TlsMinVersion { get; set; } = "tls1.0";
    public List<string> AuthHttpAddresses { get; set; } = [];
    public string AuthHttpRequestMethod { get; set; } = "get";
    public TimeSpan HttpClientConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);
    public TimeSpan HttpClientRequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    // Stats.
    /// <summary>UDP host:port of a statsd daemon; empty disables statsd reporting.</summary>
    public string StatsdAddress { get; set; } = "";
    public TimeSpan StatsdInterval { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Prefix of every stat; "%s" becomes broadcast address and HTTP port with '.' and ':' as '_'.</summary>
    public string StatsdPrefix { get; set; } = "nsq.%s";
    public bool StatsdMemStats { get; set; } = true;
    public int StatsdUdpPacketSize { get; set; } = 508;
    public bool StatsdExcludeEphemeral { get; set; }
    public List<double> E2EProcessingLatencyPercentiles { get; set; } = [];
    public TimeSpan E2EProcessingLatencyWindowTime { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan EffectiveMaxDeferTimeout => MaxDeferTimeout > TimeSpan.Zero ? MaxDeferTimeout : MaxReqTimeout;

    public bool TlsEnabled => TlsCert.Length > 0 && TlsKey.Length > 0;

    /// <summary>True when plain-TCP clients must upgrade to TLS before any command but IDENTIFY.</summary>
    public bool TcpTlsRequired => TlsRequired is "true" or "tcp-https" || TlsClientAuthPolicy.Length > 0;

    /// <summary>True when the plain HTTP listener must refuse requests (upstream --tls-required=true).</summary>
    public bool HttpTlsRequired => TlsRequired == "true" || TlsClientAuthPolicy.Length > 0;

    /// <param name="ephemeral">An #ephemeral topic (never fsynced).</param>
    /// <param name="handles">The node's segment file budget (null: the process-wide default).</param>
    public PartitionLogOptions ToLogOptions(bool ephemeral, SegmentHandleCache? handles = null) => new()
    {
        HandleCache = handles,
        // Replicated: the partition's leader advances the high watermark as its ISR catches up (acks wait for it).
        HighWatermarkFollowsLogEnd = !Replicated || ephemeral,
        TruncateAtCorruption = Replicated, // a replica re-fetches a damaged tail rather than keep a hole

        SegmentBytes = MaxBytesPerFile,
        PreallocateSegments = PreallocateSegments && !ephemeral,
        SyncMode = ephemeral ? SyncMode.Interval : SyncEvery > 0 ? SyncMode.EveryN : SyncMode.EveryAppend,
        SyncEvery = SyncEvery > 0 ? SyncEvery : 2500,
        SyncTimeout = SyncTimeout,
        RetentionAge = RetentionAge,
        RetentionBytes = RetentionBytes,
        HardLimitBytes = HardLimitBytes,
    };

    /// <summary>Cluster mode: partitions are replicated, their high watermark owned by the cluster agent and their
    /// roles in <see cref="Broker.Broker.Roles"/>. Set by the host when --etcd-endpoints is given.</summary>
    public bool Replicated { get; init; }

    /// <summary>Cluster mode: how long a publish waits for the in-sync replicas before it fails (E_NOT_ENOUGH_REPLICAS).</summary>
    public TimeSpan ReplicatedAckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Validates cross-field rules; returns an error text or null.</summary>
    public string? Validate()
    {
        if (MaxDeflateLevel is < 1 or > 9)
        {
            return "--max-deflate-level must be [1,9]";
        }

        if (NodeId is < 0 or > 1023)
        {
            return $"--node-id must be [0,1024) (got {NodeId})";
        }

        if (TopicPartitions < 1 || TopicPartitions > MaxPartitions)
        {
            return $"--topic-partitions must be between 1 and {MaxPartitions} (got {TopicPartitions})";
        }

        if (MaxOpenSegments < 1)
        {
            return $"--max-open-segments must be positive (got {MaxOpenSegments})";
        }

        if (MaxMsgSize <= 0 || MaxBodySize <= 0 || MaxRdyCount <= 0)
        {
            return "--max-msg-size, --max-body-size and --max-rdy-count must be positive";
        }

        if (MaxConnections < 0)
        {
            return $"--max-connections must be >= 0 (got {MaxConnections})";
        }

        if (TlsRequired is not ("true" or "false" or "tcp-https"))
        {
            return $"--tls-required must be true, false or tcp-https (got {TlsRequired})";
        }

        if (TlsClientAuthPolicy is not ("" or "require" or "require-verify"))
        {
            return $"--tls-client-auth-policy must be require or require-verify (got {TlsClientAuthPolicy})";
        }

        if ((TlsRequired != "false" || TlsClientAuthPolicy.Length > 0) && !TlsEnabled)
        {
            return "cannot require TLS client connections without TLS key and cert";
        }

        if (StatsdUdpPacketSize < 64 || StatsdInterval <= TimeSpan.Zero)
        {
            return "--statsd-udp-packet-size must be >= 64 and --statsd-interval positive";
        }

        foreach (var p in E2EProcessingLatencyPercentiles)
        {
            if (p is <= 0 or > 1)
            {
                return $"invalid E2E processing latency percentile: {p}";
            }
        }

        return null;
    }
}
