using NsqSharp.Cluster.Coordination;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Common.Cli;
using NsqSharp.Hosting;

namespace NsqSharp.Lookupd.Host;

/// <summary>
/// nsqlookupd's settings from its flags (a --config file has already been merged into them, explicit
/// flags winning) over the defaults.
/// </summary>
internal sealed class HostSettings
{
    public required LookupdOptions Lookupd { get; init; }

    public required string LogLevel { get; init; }

    public required string LogPrefix { get; init; }

    public static HostSettings Resolve(CommandLineOptions flags)
    {
        var options = new LookupdOptions();
        options.TcpAddress = flags.TcpAddress ?? options.TcpAddress;
        options.HttpAddress = flags.HttpAddress ?? options.HttpAddress;
        options.BroadcastAddress = flags.BroadcastAddress ?? options.BroadcastAddress;
        if (flags.InactiveProducerTimeout != null)
        {
            options.InactiveProducerTimeout = GoDuration.ParseFlag("inactive-producer-timeout", flags.InactiveProducerTimeout);
        }

        if (flags.TombstoneLifetime != null)
        {
            options.TombstoneLifetime = GoDuration.ParseFlag("tombstone-lifetime", flags.TombstoneLifetime);
        }

        if (flags.EtcdEndpoints.Any() || flags.ClusterName != null || flags.AllowUncleanElection != null)
        {
            ResolveCluster(flags, options); // only then: standalone loads no cluster code
        }

        var level = flags.LogLevel ?? "info";
        HostLogging.ParseLevel(level);
        return new HostSettings { Lookupd = options, LogLevel = level, LogPrefix = flags.LogPrefix ?? "[nsqlookupd] " };
    }

    /// <summary>Cluster mode's flags: --etcd-endpoints (comma-separated and/or repeated) turns it on.</summary>
    private static void ResolveCluster(CommandLineOptions flags, LookupdOptions options)
    {
        var given = flags.EtcdEndpoints.ToList();
        if (given.Count > 0)
        {
            try
            {
                var joined = string.Join(',', given);
                EtcdMetadataStore.ParseEndpoints(joined);
                options.EtcdEndpoints = joined.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
            catch (FormatException e)
            {
                throw new ClusterSettingsException("invalid --etcd-endpoints: " + e.Message, e);
            }
        }

        if (flags.ClusterName != null)
        {
            try
            {
                options.ClusterName = new ClusterKeys(flags.ClusterName).ClusterName;
            }
            catch (FormatException e)
            {
                throw new ClusterSettingsException("invalid --cluster-name: " + e.Message, e);
            }
        }

        if (flags.AllowUncleanElection != null)
        {
            options.AllowUncleanElection = GoStyleArgs.TryParseGoBool(flags.AllowUncleanElection, out var allow)
                ? allow
                : throw new FormatException($"invalid boolean value \"{flags.AllowUncleanElection}\" for --allow-unclean-election");
        }
    }
}
