using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Host;

/// <summary>The minimum log level, changeable at run time (PUT /config/log_level); upstream's names.</summary>
internal sealed class LogLevelSwitch
{
    public LogLevelSwitch(string initial)
    {
        if (!TrySet(initial))
        {
            Minimum = LogLevel.Information;
        }
    }

    public LogLevel Minimum { get; private set; }

    public bool TrySet(string name)
    {
        LogLevel? level = name.Trim().ToLowerInvariant() switch
        {
            "debug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "fatal" => LogLevel.Critical,
            _ => null,
        };
        if (level == null)
        {
            return false;
        }

        Minimum = level.Value;
        return true;
    }
}
