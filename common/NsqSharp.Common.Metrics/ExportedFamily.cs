using System.Collections.Concurrent;
using Prometheus;

namespace NsqSharp.Common.Metrics;

/// <summary>
/// One exported metric name: every series of one or more same-named, same-kind instruments, each
/// series a prometheus-net child (which stores the value and writes the text). The recording path
/// is lock-free and allocation-free once a tag set has been seen: a concurrent dictionary probed
/// with the listener's tag span leads straight to the child; only a new tag set takes the lock.
/// </summary>
internal sealed class ExportedFamily
{
    private readonly ConcurrentDictionary<TagSet, Series> _byTags = new(TagSetComparer.Instance);
    private readonly ConcurrentDictionary<TagSet, Series>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> _lookup;
    private readonly IMetricFactory _factory;
    private readonly Counter _dropped;
    private readonly int _maxSeries;

    // Slow path state, under _gate: canonical labels -> series (so tag orders share a series), and
    // one prometheus-net collector per distinct set of label names.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Series> _byLabels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Collector> _collectors = new(StringComparer.Ordinal);
    private int _tagSetCount;
    private Series? _untagged;

    public ExportedFamily(string name, string help, MetricKind kind, double[]? bounds, int maxSeries, IMetricFactory factory, Counter dropped)
    {
        Name = name;
        Help = help;
        Kind = kind;
        Bounds = bounds;
        _maxSeries = maxSeries;
        _factory = factory;
        _dropped = dropped;
        _lookup = _byTags.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
    }

    /// <summary>Exposition name: sanitized, with "_total" for counters.</summary>
    public string Name { get; }

    public string Help { get; }

    public MetricKind Kind { get; }

    /// <summary>Histogram upper bounds (ascending, +Inf implied); null for other kinds.</summary>
    public double[]? Bounds { get; }

    /// <summary>Instruments currently feeding this family; guarded by the exporter.</summary>
    public int InstrumentCount { get; set; }

    /// <summary>Collection number of the scrape in progress, for observable instruments.</summary>
    public long ObservationGeneration { get; set; }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        switch (Kind)
        {
            case MetricKind.Counter when !(value >= 0): // also rejects NaN: a counter never goes down
            case MetricKind.UpDownCounter or MetricKind.Histogram or MetricKind.ObservableCounter when double.IsNaN(value):
                return;
        }

        Series? series = tags.IsEmpty ? Volatile.Read(ref _untagged) ?? AddSeries(tags) : Find(tags);
        if (series is null)
        {
            _dropped.Inc();
            return;
        }

        switch (Kind)
        {
            case MetricKind.Counter:
                series.Counter!.Inc(value);
                break;
            case MetricKind.UpDownCounter:
                series.Gauge!.Inc(value);
                break;
            case MetricKind.Gauge:
                series.Gauge!.Set(value);
                break;
            case MetricKind.Histogram:
                series.Histogram!.Observe(value);
                break;
            default:
                series.Observe(value, ObservationGeneration);
                break;
        }
    }

    /// <summary>
    /// After a collection of observable instruments: hands each observed total to its child and
    /// removes the series that were not reported this time (a deleted topic's series go away).
    /// </summary>
    public void EndObservation(long generation)
    {
        lock (_gate)
        {
            List<Series>? stale = null;
            foreach (Series series in _byLabels.Values)
            {
                if (series.Generation != generation)
                {
                    (stale ??= []).Add(series);
                }
                else if (Kind == MetricKind.ObservableCounter)
                {
                    if (series.Pending < series.Counter!.Value)
                    {
                        // The running total went down (e.g. a topic deleted and re-created): a new
                        // child starts from zero, which Prometheus reads as a counter reset.
                        series.Counter.Remove();
                        series.Counter = ((Counter)_collectors[series.LabelNamesKey]).WithLabels(series.LabelValues);
                    }

                    series.Counter.IncTo(series.Pending);
                }
                else
                {
                    series.Gauge!.Set(series.Pending);
                }
            }

            if (stale is not null)
            {
                Forget(stale);
            }
        }
    }

    /// <summary>The last instrument feeding this family went away: its series disappear.</summary>
    public void RemoveAll()
    {
        lock (_gate)
        {
            Forget([.. _byLabels.Values]);
        }
    }

    private void Forget(List<Series> stale)
    {
        var removed = new HashSet<Series>(stale, ReferenceEqualityComparer.Instance);
        foreach (Series series in stale)
        {
            if (series.LabelValues.Length == 0)
            {
                // prometheus-net re-creates a removed unlabelled child as 0; hide it instead.
                series.Child.Unpublish();
                continue;
            }

            series.Child.Remove();
            _byLabels.Remove(series.LabelsKey);
        }

        foreach (KeyValuePair<TagSet, Series> entry in _byTags)
        {
            if (removed.Contains(entry.Value) && entry.Value.LabelValues.Length > 0 && _byTags.TryRemove(entry))
            {
                _tagSetCount--;
            }
        }
    }

    private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        _lookup.TryGetValue(tags, out Series? series) ? series : AddSeries(tags);

    private Series? AddSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_gate)
        {
            Series? existing = tags.IsEmpty ? _untagged : _lookup.TryGetValue(tags, out Series? found) ? found : null;
            if (existing is not null)
            {
                return existing;
            }

            // Differently ordered spellings of one tag set are bounded too (2 per series on average).
            if (_tagSetCount >= 2 * _maxSeries)
            {
                return null;
            }

            (string[] names, string[] values) = PrometheusNames.Canonicalize(tags, reserveLe: Kind == MetricKind.Histogram);
            string namesKey = string.Join('\n', names);
            string labelsKey = namesKey + "\0" + string.Join('\n', values);
            if (!_byLabels.TryGetValue(labelsKey, out Series? series))
            {
                if (_byLabels.Count >= _maxSeries || GetCollector(namesKey, names) is not { } collector)
                {
                    return null;
                }

                series = new Series(namesKey, labelsKey, values, Kind, collector);
                _byLabels.Add(labelsKey, series);
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

    private Collector? GetCollector(string namesKey, string[] names)
    {
        if (_collectors.TryGetValue(namesKey, out Collector? collector))
        {
            return collector;
        }

        try
        {
            collector = Kind switch
            {
                MetricKind.Counter or MetricKind.ObservableCounter => _factory.CreateCounter(Name, Help, names),
                MetricKind.Histogram => _factory.CreateHistogram(Name, Help, names, new HistogramConfiguration { Buckets = Bounds }),
                _ => _factory.CreateGauge(Name, Help, names),
            };
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // The registry already holds this name with another type (from an instrument that went
            // away): the measurements cannot be exported, and count as dropped.
            return null;
        }

        _collectors.Add(namesKey, collector);
        return collector;
    }

    /// <summary>One label set: its prometheus-net child and, for observable instruments, this collection's total.</summary>
    internal sealed class Series
    {
        public Series(string labelNamesKey, string labelsKey, string[] labelValues, MetricKind kind, Collector collector)
        {
            LabelNamesKey = labelNamesKey;
            LabelsKey = labelsKey;
            LabelValues = labelValues;
            switch (kind)
            {
                case MetricKind.Counter or MetricKind.ObservableCounter:
                    Counter = ((Counter)collector).WithLabels(labelValues);
                    break;
                case MetricKind.Histogram:
                    Histogram = ((Histogram)collector).WithLabels(labelValues);
                    break;
                default:
                    Gauge = ((Gauge)collector).WithLabels(labelValues);
                    break;
            }
        }

        public string LabelNamesKey { get; }

        public string LabelsKey { get; }

        public string[] LabelValues { get; }

        public Counter.Child? Counter { get; set; }

        public Gauge.Child? Gauge { get; }

        public Histogram.Child? Histogram { get; }

        public ChildBase Child => (ChildBase?)Counter ?? (ChildBase?)Gauge ?? Histogram!;

        /// <summary>Scrape number of <see cref="Pending"/>; only the scraping thread touches these.</summary>
        public long Generation { get; private set; }

        public double Pending { get; private set; }

        /// <summary>Several observations of the same series in one collection add up.</summary>
        public void Observe(double value, long generation)
        {
            if (Generation != generation)
            {
                Generation = generation;
                Pending = value;
            }
            else
            {
                Pending += value;
            }
        }
    }
}
