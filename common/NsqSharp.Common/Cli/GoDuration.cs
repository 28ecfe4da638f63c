using System.Globalization;
using System.Text;

namespace NsqSharp.Common.Cli;

/// <summary>
/// Go's time.ParseDuration / Duration.String, because upstream flags and config files carry
/// durations as "300s", "1m30s", "250ms", and tools pass them through unchanged.
/// </summary>
public static class GoDuration
{
    private const long NanosPerTick = 100;

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s is "0")
        {
            return true;
        }

        if (s.IsEmpty)
        {
            return false;
        }

        decimal totalNanos = 0;
        while (!s.IsEmpty)
        {
            var i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == 0 || !decimal.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            s = s[i..];
            var j = 0;
            while (j < s.Length && !char.IsAsciiDigit(s[j]) && s[j] != '.')
            {
                j++;
            }

            decimal unit = s[..j] switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => 0m,
            };
            if (unit == 0m)
            {
                return false;
            }

            s = s[j..];
            try
            {
                totalNanos += number * unit;
            }
            catch (OverflowException)
            {
                return false;
            }
        }

        var ticks = totalNanos / NanosPerTick;
        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)(negative ? -ticks : ticks));
        return true;
    }

    /// <summary>
    /// A duration flag's value: Go duration text, or a bare integer meaning milliseconds (how upstream's
    /// go-options reads integers from --config files, which arrive here as flags).
    /// </summary>
    public static TimeSpan ParseFlag(string flag, string text)
    {
        if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var ms))
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        return TryParse(text, out var value) ? value : throw new FormatException($"invalid value \"{text}\" for flag -{flag}: parse error");
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"time: invalid duration \"{text}\"");

    /// <summary>Formats like Go: "5m0s", "45s", "1h0m0s", "250ms", "0s".</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        var nanos = (decimal)value.Ticks * NanosPerTick;
        if (nanos < 0)
        {
            sb.Append('-');
            nanos = -nanos;
        }

        if (nanos < 1_000_000_000m)
        {
            var (unit, name) = nanos switch
            {
                < 1_000m => (1m, "ns"),
                < 1_000_000m => (1_000m, "µs"),
                _ => (1_000_000m, "ms"),
            };
            sb.Append((nanos / unit).ToString("0.#########", CultureInfo.InvariantCulture)).Append(name);
            return sb.ToString();
        }

        var hours = decimal.Floor(nanos / 3_600_000_000_000m);
        nanos -= hours * 3_600_000_000_000m;
        var minutes = decimal.Floor(nanos / 60_000_000_000m);
        nanos -= minutes * 60_000_000_000m;
        var seconds = nanos / 1_000_000_000m;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        sb.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s');
        return sb.ToString();
    }
}
