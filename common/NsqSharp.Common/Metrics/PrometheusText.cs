using System.Globalization;
using System.Text;

namespace NsqSharp.Common.Metrics;

/// <summary>Lexical rules of the Prometheus text exposition format 0.0.4.</summary>
internal static class PrometheusText
{
    /// <summary>Maps any string onto [a-zA-Z_:][a-zA-Z0-9_:]* (dots and other characters become '_').</summary>
    public static string SanitizeMetricName(string name) => Sanitize(name, allowColon: true);

    /// <summary>Maps any string onto [a-zA-Z_][a-zA-Z0-9_]* (label names may not contain ':').</summary>
    public static string SanitizeLabelName(string name) => Sanitize(name, allowColon: false);

    private static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        bool leadingDigit = char.IsAsciiDigit(name[0]);
        var sb = new StringBuilder(name.Length + (leadingDigit ? 1 : 0));
        if (leadingDigit)
        {
            sb.Append('_');
        }

        foreach (char c in name)
        {
            bool valid = char.IsAsciiLetter(c) || char.IsAsciiDigit(c) || c == '_' || (allowColon && c == ':');
            sb.Append(valid ? c : '_');
        }

        return sb.ToString();
    }

    /// <summary>Label values escape backslash, double quote and line feed.</summary>
    public static string EscapeLabelValue(string value)
    {
        if (value.AsSpan().IndexOfAny('\\', '"', '\n') < 0)
        {
            return value;
        }

        return value.Replace("\\", @"\\", StringComparison.Ordinal)
            .Replace("\"", "\\\"", StringComparison.Ordinal)
            .Replace("\n", @"\n", StringComparison.Ordinal);
    }

    /// <summary>HELP text escapes only backslash and line feed.</summary>
    public static string EscapeHelp(string help) =>
        help.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    /// <summary>Go-parsable float: shortest round-trip digits, or +Inf / -Inf / NaN.</summary>
    public static string FormatDouble(double value)
    {
        Span<char> buffer = stackalloc char[32];
        return new string(FormatDouble(value, buffer));
    }

    public static void WriteDouble(TextWriter writer, double value)
    {
        Span<char> buffer = stackalloc char[32];
        writer.Write(FormatDouble(value, buffer));
    }

    private static ReadOnlySpan<char> FormatDouble(double value, Span<char> buffer)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "+Inf" : "-Inf";
        }

        value.TryFormat(buffer, out int written, "R", CultureInfo.InvariantCulture);
        return buffer[..written];
    }

    /// <summary>String form of a tag value for a label.</summary>
    public static string TagValueToString(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>
    /// Canonical label body (without braces) for a tag set: names sanitized, duplicates dropped
    /// (first wins), sorted by name, values escaped. Equal tag sets in any order give equal text.
    /// </summary>
    public static string FormatLabels(ReadOnlySpan<KeyValuePair<string, object?>> tags, bool reserveLe)
    {
        var labels = new List<KeyValuePair<string, string>>(tags.Length);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            string name = SanitizeLabelName(tag.Key);
            if (reserveLe && name == "le")
            {
                name = "le_"; // "le" carries the bucket bound on histogram series
            }

            if (!labels.Exists(l => l.Key == name))
            {
                labels.Add(new(name, EscapeLabelValue(TagValueToString(tag.Value))));
            }
        }

        labels.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var sb = new StringBuilder();
        foreach (KeyValuePair<string, string> label in labels)
        {
            if (sb.Length > 0)
            {
                sb.Append(',');
            }

            sb.Append(label.Key).Append("=\"").Append(label.Value).Append('"');
        }

        return sb.ToString();
    }
}
