using System.Net;

namespace NsqSharp.Lookupd;

/// <summary>
/// nsqlookupd settings, named after upstream's flags (nsqlookupd/options.go). The host maps
/// --tcp-address etc. onto these; tests build them directly with port 0.
/// </summary>
public sealed class LookupdOptions
{
    /// <summary>Upstream default: 4160 on every IPv4 interface. "host:port", ":port" or a unix socket path.</summary>
    public string TcpAddress { get; set; } = "0.0.0.0:4160";

    public string HttpAddress { get; set; } = "0.0.0.0:4161";

    /// <summary>Address nsqd nodes are told to reach our HTTP API on (IDENTIFY response); upstream defaults to the OS hostname.</summary>
    public string BroadcastAddress { get; set; } = Dns.GetHostName();

    /// <summary>A producer whose last PING is older than this is left out of /lookup and /nodes.</summary>
    public TimeSpan InactiveProducerTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How long /topic/tombstone hides a producer of a topic from /lookup.</summary>
    public TimeSpan TombstoneLifetime { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Hostname reported in the IDENTIFY response.</summary>
    public string Hostname { get; set; } = Dns.GetHostName();

    // ---- Cluster mode (NsqSharp's addition; docs/OPERATIONS.md, "Cluster mode"). ----

    /// <summary>etcd client URLs (http://host:port). Empty: standalone, exactly upstream's nsqlookupd.</summary>
    public IReadOnlyList<string> EtcdEndpoints { get; set; } = [];

    /// <summary>Which cluster in that etcd (keys under /nsqsharp/&lt;name&gt;/).</summary>
    public string ClusterName { get; set; } = "nsqsharp";

    /// <summary>The controller may let an out-of-sync replica lead when no ISR member is alive (loses acknowledged data).</summary>
    public bool AllowUncleanElection { get; set; }

    /// <summary>Deadline of each etcd call; a cluster request waits at most about this long for etcd.</summary>
    public TimeSpan EtcdRequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public bool IsClusterMode => EtcdEndpoints.Count > 0;

    // ---- Bounds that upstream leaves open; ours keep a misbehaving peer from exhausting memory. ----

    /// <summary>Largest IDENTIFY JSON body accepted (nsqd's --max-body-size default).</summary>
    public int MaxIdentifyBodySize { get; set; } = 5 * 1024 * 1024;

    /// <summary>Longest command line; real ones are under 150 bytes (two 64-char names).</summary>
    public int MaxCommandLineLength { get; set; } = 16 * 1024;

    /// <summary>Time a new connection has to send the 4-byte protocol magic.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection silent for this long is closed. Upstream never closes idle peers; nsqd PINGs every
    /// 15 s, so this only reaps dead or hostile sockets. Null means max(inactive-producer-timeout, 60 s),
    /// so a producer is never dropped before /lookup would have hidden it anyway.
    /// </summary>
    public TimeSpan? ClientIdleTimeout { get; set; }

    /// <summary>Connections beyond this are accepted and closed at once.</summary>
    public int MaxTcpClients { get; set; } = 10_000;

    /// <summary>Clock for PING ages and tombstones; tests substitute a manual one.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    public TimeSpan EffectiveClientIdleTimeout =>
        ClientIdleTimeout ?? (InactiveProducerTimeout > TimeSpan.FromSeconds(60) ? InactiveProducerTimeout : TimeSpan.FromSeconds(60));
}
