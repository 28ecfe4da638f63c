using System.Globalization;
using NsqSharp.Common.Cli;

namespace NsqSharp.Client.Config;

/// <summary>
/// Parses and prints option values the way go-nsq's <c>Config.Set</c> does, so settings written for
/// go-nsq (<c>"250ms"</c>, <c>"1m30s"</c>, <c>"true"</c>, <c>"1"</c>) carry over unchanged.
/// </summary>
internal static class GoValueParser
{
    /// <summary>Go <c>time.ParseDuration</c>, plus a bare integer meaning milliseconds (go-nsq's rule for ints).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        var s = text.Trim();
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
        {
            var inRange = ms is <= long.MaxValue / TimeSpan.TicksPerMillisecond and >= long.MinValue / TimeSpan.TicksPerMillisecond;
            value = inRange ? TimeSpan.FromMilliseconds(ms) : default;
            return inRange;
        }

        return GoDuration.TryParse(s, out value);
    }

    /// <summary>Go <c>strconv.ParseBool</c>.</summary>
    public static bool TryParseBool(string text, out bool value) => GoStyleArgs.TryParseGoBool(text.Trim(), out value);

    /// <summary>Go <c>time.Duration.String()</c>.</summary>
    public static string FormatDuration(TimeSpan value) => GoDuration.Format(value);
}
