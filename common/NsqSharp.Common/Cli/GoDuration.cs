using System.Globalization;

namespace NsqSharp.Common.Cli;

/// <summary>Go's time.ParseDuration ("300ms", "1m30s", "2h", "1.5s"), used by upstream-compatible flags.</summary>
public static class GoDuration
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = text.Trim();
        if (s.Length == 0)
        {
            return false;
        }

        var negative = s[0] == '-';
        if (s[0] is '-' or '+')
        {
            s = s[1..];
        }

        if (s == "0")
        {
            return true;
        }

        double totalNs = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }

            double scale = s[unitStart..i] switch
            {
                "ns" => 1,
                "us" or "µs" or "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => -1,
            };
            if (scale < 0)
            {
                return false;
            }

            totalNs += number * scale;
        }

        value = TimeSpan.FromTicks((long)(totalNs / 100) * (negative ? -1 : 1));
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"invalid duration \"{text}\" (want e.g. 250ms, 60s, 1h)");

    /// <summary>Formats like Go's Duration.String for the common cases (e.g. "1m0s", "250ms").</summary>
    public static string Format(TimeSpan t)
    {
        if (t == TimeSpan.Zero)
        {
            return "0s";
        }

        if (t < TimeSpan.FromSeconds(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0.###}ms");
        }

        var hours = (long)t.TotalHours;
        var minutes = t.Minutes;
        var seconds = t.TotalSeconds - (hours * 3600) - (minutes * 60);
        var sec = string.Create(CultureInfo.InvariantCulture, $"{seconds:0.#########}s");
        return hours > 0 ? $"{hours}h{minutes}m{sec}" : minutes > 0 ? $"{minutes}m{sec}" : sec;
    }
}
