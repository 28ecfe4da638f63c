using CommandLine;

namespace NsqSharp.Lookupd.Host;

/// <summary>
/// nsqlookupd's flags with upstream's names (apps/nsqlookupd/main.go). Values stay strings/null
/// so an unset flag can fall back to the --config file and then to the default, as upstream resolves.
/// </summary>
internal sealed class CommandLineOptions
{
    public static readonly IReadOnlySet<string> BoolFlags = new HashSet<string>(StringComparer.Ordinal) { "version", "verbose", "allow-unclean-election" };

    [Option("config", HelpText = "path to config file")]
    public string? Config { get; set; }

    [Option("version", HelpText = "print version string")]
    public string? Version { get; set; }

    [Option("log-level", HelpText = "set log verbosity: debug, info, warn, error, or fatal (default info)")]
    public string? LogLevel { get; set; }

    [Option("log-prefix", HelpText = "log message prefix (default \"[nsqlookupd] \")")]
    public string? LogPrefix { get; set; }

    [Option("verbose", HelpText = "[deprecated] has no effect, use --log-level")]
    public string? Verbose { get; set; }

    [Option("tcp-address", HelpText = "<addr>:<port> to listen on for TCP clients (default \"0.0.0.0:4160\")")]
    public string? TcpAddress { get; set; }

    [Option("http-address", HelpText = "<addr>:<port> to listen on for HTTP clients (default \"0.0.0.0:4161\")")]
    public string? HttpAddress { get; set; }

    [Option("broadcast-address", HelpText = "address of this lookupd node, (default to the OS hostname)")]
    public string? BroadcastAddress { get; set; }

    [Option("inactive-producer-timeout", HelpText = "duration of time a producer will remain in the active list since its last ping (default 5m0s)")]
    public string? InactiveProducerTimeout { get; set; }

    [Option("tombstone-lifetime", HelpText = "duration of time a producer will remain tombstoned if registration remains (default 45s)")]
    public string? TombstoneLifetime { get; set; }

    // ---- Cluster mode (NsqSharp's addition): without --etcd-endpoints nsqlookupd is upstream's. ----

    [Option("etcd-endpoints", HelpText = "etcd client URLs, http://host:port, comma-separated or repeated: turns cluster mode on (this lookupd serves the cluster API and may be elected controller)")]
    public IEnumerable<string> EtcdEndpoints { get; set; } = [];

    [Option("cluster-name", HelpText = "cluster mode: the cluster's name in etcd, 1-64 of [a-zA-Z0-9._-] (default \"nsqsharp\")")]
    public string? ClusterName { get; set; }

    [Option("allow-unclean-election", HelpText = "cluster mode: when no in-sync replica of a partition is alive, let an out-of-sync one lead; this can lose acknowledged data (default false: the partition stays offline)")]
    public string? AllowUncleanElection { get; set; }
}
