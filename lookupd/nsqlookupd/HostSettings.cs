using System.Globalization;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;

namespace NsqSharp.Lookupd.Host;

/// <summary>
/// Resolves each setting as upstream does: an explicit flag wins, then the --config file
/// (key = flag name with '_'), then the default.
/// </summary>
internal sealed class HostSettings
{
    public required LookupdOptions Lookupd { get; init; }

    public required LogLevel LogLevel { get; init; }

    public required string LogPrefix { get; init; }

    public static HostSettings Resolve(CommandLineOptions flags)
    {
        var config = flags.Config is { Length: > 0 } path ? ConfigFile.Load(path) : [];
        var options = new LookupdOptions();
        options.TcpAddress = Pick(flags.TcpAddress, config, "tcp_address") ?? options.TcpAddress;
        options.HttpAddress = Pick(flags.HttpAddress, config, "http_address") ?? options.HttpAddress;
        options.BroadcastAddress = Pick(flags.BroadcastAddress, config, "broadcast_address") ?? options.BroadcastAddress;
        options.InactiveProducerTimeout = Duration("inactive-producer-timeout", flags.InactiveProducerTimeout, config) ?? options.InactiveProducerTimeout;
        options.TombstoneLifetime = Duration("tombstone-lifetime", flags.TombstoneLifetime, config) ?? options.TombstoneLifetime;

        var level = Pick(flags.LogLevel, config, "log_level") ?? "info";
        return new HostSettings
        {
            Lookupd = options,
            LogLevel = ParseLogLevel(level),
            LogPrefix = Pick(flags.LogPrefix, config, "log_prefix") ?? "[nsqlookupd] ",
        };
    }

    private static string? Pick(string? flag, Dictionary<string, object> config, string key)
    {
        if (flag != null)
        {
            return flag;
        }

        return config.TryGetValue(key, out var value) ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Go duration text; a bare integer in the config file is milliseconds (go-options).</summary>
    private static TimeSpan? Duration(string flag, string? flagValue, Dictionary<string, object> config)
    {
        if (flagValue == null && config.TryGetValue(flag.Replace('-', '_'), out var raw) && raw is long ms)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        var text = Pick(flagValue, config, flag.Replace('-', '_'));
        if (text == null)
        {
            return null;
        }

        return GoDuration.TryParse(text, out var value)
            ? value
            : throw new ArgumentException($"invalid value \"{text}\" for flag -{flag}: parse error");
    }

    private static LogLevel ParseLogLevel(string text) => text.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warn" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "fatal" => LogLevel.Critical,
        _ => throw new ArgumentException($"invalid value \"{text}\" for flag -log-level: invalid log level '{text}'"),
    };
}
