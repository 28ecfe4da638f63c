using System.Collections.Concurrent;

namespace NsqSharp.Common.Metrics;

/// <summary>
/// One exported metric family: every series of one or more same-named, same-kind instruments.
/// The recording path is lock-free: a concurrent dictionary probed with the listener's tag span;
/// only the first measurement of a new tag set takes a lock.
/// </summary>
internal sealed class MetricFamily
{
    private readonly ConcurrentDictionary<TagSet, MetricSeries> _byTags = new(TagSetComparer.Instance);
    private readonly ConcurrentDictionary<TagSet, MetricSeries>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> _lookup;

    // Slow path state, under _gate: canonical label text -> series (so tag orders share a series).
    private readonly Lock _gate = new();
    private readonly Dictionary<string, MetricSeries> _byLabels = new(StringComparer.Ordinal);
    private readonly int _maxSeries;
    private int _tagSetCount;
    private MetricSeries? _untagged;
    private long _dropped;

    public MetricFamily(string name, string help, MetricKind kind, double[]? bounds, int maxSeries)
    {
        Name = name;
        Help = help;
        Kind = kind;
        Bounds = bounds;
        _maxSeries = maxSeries;
        _lookup = _byTags.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
    }

    /// <summary>Exposition name: sanitized, with "_total" for counters.</summary>
    public string Name { get; }

    public string Help { get; }

    public MetricKind Kind { get; }

    /// <summary>Histogram upper bounds (ascending); null for other kinds.</summary>
    public double[]? Bounds { get; }

    /// <summary>Instruments currently feeding this family; guarded by the exporter.</summary>
    public int InstrumentCount { get; set; }

    /// <summary>Collection number of the scrape in progress, for observable instruments.</summary>
    public long ObservationGeneration { get; set; }

    /// <summary>Measurements discarded because the family already held the maximum number of series.</summary>
    public long DroppedMeasurements => Interlocked.Read(ref _dropped);

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (Kind)
        {
            case MetricKind.Counter when !(value >= 0): // also rejects NaN: a counter never goes down
            case MetricKind.UpDownCounter or MetricKind.Histogram when double.IsNaN(value):
                return;
        }

        MetricSeries? series = tags.IsEmpty ? Volatile.Read(ref _untagged) ?? AddSeries(tags) : Find(tags);
        if (series is null)
        {
            Interlocked.Increment(ref _dropped);
            return;
        }

        switch (Kind)
        {
            case MetricKind.Counter:
            case MetricKind.UpDownCounter:
                series.Add(value);
                break;
            case MetricKind.Gauge:
                series.Set(value);
                break;
            case MetricKind.Histogram:
                series.RecordHistogram(value, Bounds!);
                break;
            default:
                series.Observe(value, ObservationGeneration);
                break;
        }
    }

    private MetricSeries? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        _lookup.TryGetValue(tags, out MetricSeries? series) ? series : AddSeries(tags);

    private MetricSeries? AddSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_gate)
        {
            MetricSeries? existing = tags.IsEmpty ? _untagged : _lookup.TryGetValue(tags, out MetricSeries? found) ? found : null;
            if (existing is not null)
            {
                return existing;
            }

            // Differently ordered spellings of one tag set are bounded too (2 per series on average).
            if (_tagSetCount >= 2 * _maxSeries)
            {
                return null;
            }

            string labels = PrometheusText.FormatLabels(tags, reserveLe: Kind == MetricKind.Histogram);
            if (!_byLabels.TryGetValue(labels, out MetricSeries? series))
            {
                if (_byLabels.Count >= _maxSeries)
                {
                    return null;
                }

                series = new MetricSeries(labels, Bounds?.Length ?? -1);
                _byLabels.Add(labels, series);
            }

            if (tags.IsEmpty)
            {
                Volatile.Write(ref _untagged, series);
            }
            else
            {
                _lookup.TryAdd(tags, series);
                _tagSetCount++;
            }

            return series;
        }
    }

    /// <summary>Series sorted by label text, for deterministic output.</summary>
    public MetricSeries[] SnapshotSeries()
    {
        MetricSeries[] series;
        lock (_gate)
        {
            series = [.. _byLabels.Values];
        }

        Array.Sort(series, static (a, b) => string.CompareOrdinal(a.Labels, b.Labels));
        return series;
    }
}
