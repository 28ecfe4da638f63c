namespace NsqSharp.Common.Metrics;

/// <summary>Writes metric families as Prometheus text format 0.0.4 lines ("\n"-terminated).</summary>
internal static class ExpositionWriter
{
    public static void WriteHeader(TextWriter writer, string name, string help, string type)
    {
        writer.Write("# HELP ");
        writer.Write(name);
        writer.Write(' ');
        writer.Write(PrometheusText.EscapeHelp(help));
        writer.Write('\n');
        writer.Write("# TYPE ");
        writer.Write(name);
        writer.Write(' ');
        writer.Write(type);
        writer.Write('\n');
    }

    public static void WriteSample(TextWriter writer, string name, string labels, double value) =>
        WriteSample(writer, name, labels, string.Empty, value);

    /// <summary>Writes one sample; <paramref name="extraLabel"/> (e.g. le="0.5") goes after the series labels.</summary>
    public static void WriteSample(TextWriter writer, string name, string labels, string extraLabel, double value)
    {
        writer.Write(name);
        if (labels.Length > 0 || extraLabel.Length > 0)
        {
            writer.Write('{');
            writer.Write(labels);
            if (labels.Length > 0 && extraLabel.Length > 0)
            {
                writer.Write(',');
            }

            writer.Write(extraLabel);
            writer.Write('}');
        }

        writer.Write(' ');
        PrometheusText.WriteDouble(writer, value);
        writer.Write('\n');
    }

    /// <summary>Writes a family, skipping it entirely when it has nothing to show this scrape.</summary>
    public static void WriteFamily(TextWriter writer, MetricFamily family, long generation)
    {
        MetricSeries[] series = family.SnapshotSeries();
        bool observable = family.Kind.IsObservable();
        bool any = false;
        foreach (MetricSeries s in series)
        {
            if (!observable || s.WasObservedIn(generation))
            {
                any = true;
                break;
            }
        }

        if (!any)
        {
            return;
        }

        WriteHeader(writer, family.Name, family.Help, family.Kind.PrometheusType());
        if (family.Kind == MetricKind.Histogram)
        {
            WriteHistogram(writer, family, series);
            return;
        }

        foreach (MetricSeries s in series)
        {
            if (!observable || s.WasObservedIn(generation))
            {
                WriteSample(writer, family.Name, s.Labels, s.Value);
            }
        }
    }

    private static void WriteHistogram(TextWriter writer, MetricFamily family, MetricSeries[] series)
    {
        double[] bounds = family.Bounds!;
        string[] le = new string[bounds.Length + 1];
        for (int i = 0; i < bounds.Length; i++)
        {
            le[i] = "le=\"" + PrometheusText.FormatDouble(bounds[i]) + "\"";
        }

        le[^1] = "le=\"+Inf\"";
        string bucketName = family.Name + "_bucket";
        string sumName = family.Name + "_sum";
        string countName = family.Name + "_count";
        long[] counts = new long[bounds.Length + 1];
        foreach (MetricSeries s in series)
        {
            s.ReadBuckets(counts);
            long cumulative = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                cumulative += counts[i];
                WriteSample(writer, bucketName, s.Labels, le[i], cumulative);
            }

            // _count is derived from the same snapshot as +Inf, so the two always agree.
            WriteSample(writer, sumName, s.Labels, s.Sum);
            WriteSample(writer, countName, s.Labels, cumulative);
        }
    }
}
