using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace NsqSharp.Common.Tests.Metrics;

internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string name) => Labels.TryGetValue(name, out string? value) ? value : throw new KeyNotFoundException(name);
}

internal sealed record Family(string Name, string Type, string? Help, List<Sample> Samples);

/// <summary>
/// Strict parser for Prometheus text format 0.0.4, used to check the exporter's output. Rejects
/// anything a lenient scraper might let through: CR, blank lines, unknown comments, bad names or
/// escapes, duplicate labels or samples, HELP/TYPE after samples, interleaved families, and
/// inconsistent histograms.
/// </summary>
internal static partial class ExpositionParser
{
    private static readonly HashSet<string> Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();

    /// <param name="text">Prometheus text exposition.</param>
    /// <param name="consistentHistograms">
    /// Also require a histogram's _count to equal its +Inf bucket. prometheus-net reads a histogram's buckets and its
    /// count at slightly different moments, so a scrape taken while observations are being recorded may differ by
    /// the ones in progress; only quiescent scrapes can be held to it.
    /// </param>
    public static List<Family> Parse(string text, bool consistentHistograms = true)
    {
        Check(!text.Contains('\r'), "carriage return");
        Check(text.Length == 0 || text.EndsWith('\n'), "last line not terminated");
        var families = new List<Family>();
        var byName = new Dictionary<string, Family>();
        var seenSamples = new HashSet<string>();
        Family? current = null;
        string[] lines = text.Length == 0 ? [] : text[..^1].Split('\n');
        foreach (string line in lines)
        {
            Check(line.Length > 0, "blank line");
            if (line.StartsWith('#'))
            {
                string[] parts = line.Split(' ', 4);
                Check(parts.Length >= 3 && parts[0] == "#" && (parts[1] == "HELP" || parts[1] == "TYPE"), "unknown comment: " + line);
                string name = parts[2];
                Check(MetricName().IsMatch(name), "bad metric name in comment: " + name);
                Family family = GetOrStartFamily(name);
                Check(family.Samples.Count == 0, "HELP/TYPE after samples: " + line);
                if (parts[1] == "HELP")
                {
                    Check(family.Help is null, "second HELP for " + name);
                    string help = parts.Length == 4 ? parts[3] : string.Empty;
                    families[families.IndexOf(family)] = byName[name] = current = family with { Help = Unescape(help, allowQuote: false) };
                }
                else
                {
                    Check(parts.Length == 4 && Types.Contains(parts[3]), "bad TYPE: " + line);
                    Check(family.Type == "untyped-implicit", "second TYPE for " + name);
                    families[families.IndexOf(family)] = byName[name] = current = family with { Type = parts[3] };
                }

                continue;
            }

            Sample sample = ParseSample(line);
            string familyName = FamilyOf(sample.Name, byName);
            Check(current is not null && current.Name == familyName, "sample outside its family block: " + line);
            string key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)) + "}";
            Check(seenSamples.Add(key), "duplicate sample: " + key);
            current!.Samples.Add(sample);
        }

        foreach (Family family in families)
        {
            Check(family.Type != "untyped-implicit", "family without TYPE: " + family.Name);
            if (family.Type == "histogram")
            {
                CheckHistogram(family, consistentHistograms);
            }
            else if (family.Type is "counter" or "gauge")
            {
                Check(family.Samples.All(s => s.Name == family.Name), "counter/gauge sample with a suffix in " + family.Name);
            }
        }

        return families;

        Family GetOrStartFamily(string name)
        {
            if (byName.TryGetValue(name, out Family? family))
            {
                Check(current == family, "family split in two blocks: " + name);
                return family;
            }

            family = new Family(name, "untyped-implicit", null, []);
            byName[name] = family;
            families.Add(family);
            current = family;
            return family;
        }
    }

    private static string FamilyOf(string sampleName, Dictionary<string, Family> byName)
    {
        if (byName.TryGetValue(sampleName, out Family? exact) && exact.Type != "histogram")
        {
            return sampleName;
        }

        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal)
                && byName.TryGetValue(sampleName[..^suffix.Length], out Family? family) && family.Type == "histogram")
            {
                return family.Name;
            }
        }

        throw new FormatException("sample without a declared family: " + sampleName);
    }

    private static Sample ParseSample(string line)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        string name = line[..i];
        Check(MetricName().IsMatch(name), "bad metric name: " + name);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int start = i;
                while (line[i] != '=')
                {
                    i++;
                }

                string labelName = line[start..i];
                Check(LabelName().IsMatch(labelName), "bad label name: " + labelName);
                Check(line[i + 1] == '"', "label value not quoted");
                i += 2;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        char escaped = line[i + 1];
                        Check(escaped is '\\' or '"' or 'n', "bad escape \\" + escaped);
                        value.Append(escaped == 'n' ? '\n' : escaped);
                        i += 2;
                    }
                    else
                    {
                        value.Append(line[i++]);
                    }
                }

                i++;
                Check(labels.TryAdd(labelName, value.ToString()), "duplicate label " + labelName);
                Check(line[i] == ',' || line[i] == '}', "expected , or }");
                if (line[i] == ',')
                {
                    i++;
                }
            }

            i++;
        }

        Check(i < line.Length && line[i] == ' ', "missing space before value: " + line);
        string[] rest = line[(i + 1)..].Split(' ');
        Check(rest.Length is 1 or 2, "trailing garbage: " + line);
        if (rest.Length == 2)
        {
            Check(long.TryParse(rest[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _), "bad timestamp");
        }

        return new Sample(name, labels, ParseValue(rest[0]));
    }

    public static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && !text.Contains(',')
            ? v
            : throw new FormatException("bad value: " + text),
    };

    private static void CheckHistogram(Family family, bool consistentHistograms)
    {
        foreach (IGrouping<string, Sample> series in family.Samples.GroupBy(s => SeriesKey(s, except: "le")))
        {
            List<Sample> buckets = series.Where(s => s.Name == family.Name + "_bucket").ToList();
            Check(buckets.Count > 0, "histogram without buckets");
            double previousLe = double.NegativeInfinity;
            double previousCount = 0;
            foreach (Sample bucket in buckets)
            {
                double le = ParseValue(bucket.Label("le"));
                Check(le > previousLe, "le not increasing");
                Check(bucket.Value >= previousCount, "bucket counts not cumulative");
                previousLe = le;
                previousCount = bucket.Value;
            }

            Check(double.IsPositiveInfinity(previousLe), "no +Inf bucket");
            Sample count = series.Single(s => s.Name == family.Name + "_count");
            Check(!consistentHistograms || count.Value == previousCount, "_count differs from +Inf bucket");
            Check(series.Count(s => s.Name == family.Name + "_sum") == 1, "missing _sum");
        }
    }

    private static string SeriesKey(Sample s, string except) =>
        string.Join(",", s.Labels.Where(l => l.Key != except).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value));

    private static string Unescape(string text, bool allowQuote)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                sb.Append(text[i]);
                continue;
            }

            Check(i + 1 < text.Length, "dangling backslash");
            char c = text[++i];
            Check(c == '\\' || c == 'n' || (allowQuote && c == '"'), "bad escape in HELP");
            sb.Append(c == 'n' ? '\n' : c);
        }

        return sb.ToString();
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FormatException(message);
        }
    }
}
