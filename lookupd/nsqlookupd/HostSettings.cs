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

        var level = flags.LogLevel ?? "info";
        HostLogging.ParseLevel(level);
        return new HostSettings { Lookupd = options, LogLevel = level, LogPrefix = flags.LogPrefix ?? "[nsqlookupd] " };
    }
}
