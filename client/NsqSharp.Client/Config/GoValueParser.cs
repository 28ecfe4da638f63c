using System.Globalization;
using System.Text;

namespace NsqSharp.Client.Config;

/// <summary>
/// Parses and prints option values the way go-nsq's <c>Config.Set</c> does, so settings written for
/// go-nsq (<c>"250ms"</c>, <c>"1m30s"</c>, <c>"true"</c>, <c>"1"</c>) carry over unchanged.
/// </summary>
internal static class GoValueParser
{
    private const long TicksPerNanosecondDivisor = 100; // 1 tick = 100 ns

    /// <summary>Go <c>time.ParseDuration</c>, plus a bare integer meaning milliseconds (go-nsq's rule for ints).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        var s = text.Trim();
        if (s.Length == 0)
        {
            return false;
        }

        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
        {
            if (ms is > long.MaxValue / TimeSpan.TicksPerMillisecond or < long.MinValue / TimeSpan.TicksPerMillisecond)
            {
                return false;
            }

            value = TimeSpan.FromMilliseconds(ms);
            return true;
        }

        var negative = false;
        var i = 0;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            i = 1;
        }

        if (i == s.Length)
        {
            return false;
        }

        decimal totalNs = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (start == i || !decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint,
                    CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }

            decimal? unitNs = s.AsSpan(unitStart, i - unitStart) switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => null,
            };
            if (unitNs is null)
            {
                return false;
            }

            try
            {
                totalNs += number * unitNs.Value;
            }
            catch (OverflowException)
            {
                return false;
            }
        }

        var ticks = totalNs / TicksPerNanosecondDivisor;
        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)(negative ? -ticks : ticks));
        return true;
    }

    /// <summary>Go <c>strconv.ParseBool</c>.</summary>
    public static bool TryParseBool(string text, out bool value)
    {
        switch (text.Trim())
        {
            case "1" or "t" or "T" or "true" or "TRUE" or "True":
                value = true;
                return true;
            case "0" or "f" or "F" or "false" or "FALSE" or "False":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>Prints a duration like Go's <c>time.Duration.String()</c> (e.g. <c>1m30s</c>, <c>250ms</c>).</summary>
    public static string FormatDuration(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        if (value < TimeSpan.Zero)
        {
            sb.Append('-');
            value = value.Duration();
        }

        if (value < TimeSpan.FromSeconds(1))
        {
            var ns = value.Ticks * TicksPerNanosecondDivisor;
            if (ns >= 1_000_000)
            {
                sb.Append((ns / 1_000_000m).ToString("0.#########", CultureInfo.InvariantCulture)).Append("ms");
            }
            else if (ns >= 1_000)
            {
                sb.Append((ns / 1_000m).ToString("0.###", CultureInfo.InvariantCulture)).Append("µs");
            }
            else
            {
                sb.Append(ns.ToString(CultureInfo.InvariantCulture)).Append("ns");
            }

            return sb.ToString();
        }

        var hours = (long)value.TotalHours;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || value.Minutes > 0)
        {
            sb.Append(value.Minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        var seconds = value.Seconds + (value.Ticks % TimeSpan.TicksPerSecond) / (decimal)TimeSpan.TicksPerSecond;
        sb.Append(seconds.ToString("0.#######", CultureInfo.InvariantCulture)).Append('s');
        return sb.ToString();
    }
}
