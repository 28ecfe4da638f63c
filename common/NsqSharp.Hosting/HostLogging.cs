using Microsoft.Extensions.Logging;

namespace NsqSharp.Hosting;

/// <summary>
/// Logging for our executables: upstream's line format on stderr ("[nsqd] 2025/01/27 10:11:12.123456
/// INFO: message") and upstream's level names, with a level that can change at run time.
/// </summary>
public sealed class HostLogging
{
    private HostLogging(LogLevel minimum)
    {
        Minimum = minimum;
    }

    public LogLevel Minimum { get; private set; }

    /// <summary>Parses --log-level (debug, info, warn, error, fatal) or throws FormatException.</summary>
    public static LogLevel ParseLevel(string text) => TryParseLevel(text, out var level)
        ? level
        : throw new FormatException($"invalid value \"{text}\" for flag -log-level: invalid log level '{text}'");

    public static bool TryParseLevel(string text, out LogLevel level)
    {
        LogLevel? parsed = text.Trim().ToLowerInvariant() switch
        {
            "debug" => LogLevel.Debug,
            "info" => LogLevel.Information,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "fatal" => LogLevel.Critical,
            _ => null,
        };
        level = parsed ?? LogLevel.Information;
        return parsed != null;
    }

    /// <summary>A logger factory writing upstream's format with the prefix; Microsoft.* below warnings is dropped.</summary>
    public static (ILoggerFactory Factory, HostLogging Level) Create(string level, string prefix)
    {
        var switcher = new HostLogging(ParseLevel(level));
        var factory = LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddFilter((category, l) => l >= switcher.Minimum &&
                (category == null || !category.StartsWith("Microsoft", StringComparison.Ordinal) || l >= LogLevel.Warning));
            logging.AddConsole(o =>
            {
                o.FormatterName = NsqConsoleFormatter.FormatterName;
                o.LogToStandardErrorThreshold = LogLevel.Trace; // upstream logs to stderr
            });
            logging.AddConsoleFormatter<NsqConsoleFormatter, NsqConsoleFormatterOptions>(o => o.Prefix = prefix);
        });
        return (factory, switcher);
    }

    /// <summary>Applies a level at run time (PUT /config/log_level); false when the name is unknown.</summary>
    public bool TrySet(string name)
    {
        if (!TryParseLevel(name, out var level))
        {
            return false;
        }

        Minimum = level;
        return true;
    }
}
