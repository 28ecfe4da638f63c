using System.Globalization;
using System.Text;

namespace NsqSharp.Common.Metrics;

/// <summary>
/// How instrument names, descriptions and tags become Prometheus names, HELP text and labels. This
/// is the naming layer prometheus-net's own MeterAdapter does differently (it prefixes the meter
/// name, lowercases, and exports counters as gauges), so /metrics keeps its names.
/// </summary>
internal static class PrometheusNames
{
    /// <summary>
    /// Maps any string onto [a-zA-Z_][a-zA-Z0-9_]* (dots and other characters become '_'). Colons,
    /// legal in the format but reserved for recording rules, are rejected by prometheus-net and so
    /// become '_' too.
    /// </summary>
    public static string SanitizeMetricName(string name) => Sanitize(name);

    /// <summary>
    /// As <see cref="SanitizeMetricName"/>; a leading "__" (reserved for Prometheus' internal labels,
    /// refused by prometheus-net) is shortened to "_".
    /// </summary>
    public static string SanitizeLabelName(string name)
    {
        string sanitized = Sanitize(name);
        return sanitized.StartsWith("__", StringComparison.Ordinal) ? "_" + sanitized.TrimStart('_') : sanitized;
    }

    private static string Sanitize(string name)
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
            sb.Append(char.IsAsciiLetter(c) || char.IsAsciiDigit(c) || c == '_' ? c : '_');
        }

        return sb.ToString();
    }

    /// <summary>
    /// HELP text escapes backslash and line feed. prometheus-net writes HELP verbatim, so the text
    /// is escaped before it is handed over.
    /// </summary>
    public static string EscapeHelp(string help) =>
        help.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    /// <summary>String form of a tag value for a label (invariant culture, booleans lowercase).</summary>
    public static string TagValueToString(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>
    /// Canonical labels for a tag set: names sanitized, duplicates dropped (first wins), sorted by
    /// name. Equal tag sets in any order give equal names and values.
    /// </summary>
    public static (string[] Names, string[] Values) Canonicalize(ReadOnlySpan<KeyValuePair<string, object?>> tags, bool reserveLe)
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
                labels.Add(new(name, TagValueToString(tag.Value)));
            }
        }

        labels.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return ([.. labels.Select(l => l.Key)], [.. labels.Select(l => l.Value)]);
    }
}
