using System.Diagnostics.Metrics;

namespace NsqSharp.Common.Metrics;

/// <summary>
/// Serves System.Diagnostics.Metrics instruments as Prometheus text format 0.0.4 (for /metrics),
/// since prometheus-net is not available. Listens to the named meters; sums counters per tag set,
/// keeps the last value of gauges, collects observable instruments at scrape time, and buckets
/// histograms with fixed bounds. Recording is lock-free and allocation-free once a tag set has
/// been seen; each instrument keeps at most a fixed number of series, the rest is dropped and
/// counted in <c>nsqsharp_metrics_dropped_series_total</c>.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Content-Type of <see cref="Scrape"/> output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public const int DefaultMaxSeriesPerInstrument = 10_000;

    private const string DroppedSeriesName = "nsqsharp_metrics_dropped_series_total";

    private readonly HashSet<string> _meterNames = new(StringComparer.Ordinal);
    private readonly List<string> _meterPrefixes = [];
    private readonly Dictionary<string, double[]> _histogramBuckets = new(StringComparer.Ordinal);
    private readonly int _maxSeries;
    private readonly MeterListener _listener;

    private readonly Lock _familiesGate = new(); // guards _families and family instrument counts
    private readonly Dictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private long _droppedByRemovedFamilies;

    private readonly Lock _scrapeGate = new(); // one collection at a time
    private long _generation;
    private bool _disposed;

    /// <param name="meterNames">Meters to export. A name ending in '*' matches by prefix ("NsqSharp.*").</param>
    /// <param name="histogramBuckets">
    /// Bucket upper bounds per histogram, keyed by instrument name (as created, or sanitized).
    /// Otherwise the instrument's advised bounds are used, else <see cref="DefaultHistogramBuckets"/>.
    /// </param>
    /// <param name="maxSeriesPerInstrument">Distinct tag sets kept per metric; more are dropped.</param>
    public PrometheusExporter(
        IEnumerable<string> meterNames,
        IReadOnlyDictionary<string, double[]>? histogramBuckets = null,
        int maxSeriesPerInstrument = DefaultMaxSeriesPerInstrument)
    {
        ArgumentNullException.ThrowIfNull(meterNames);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeriesPerInstrument, 1);
        foreach (string name in meterNames)
        {
            if (name.EndsWith('*'))
            {
                _meterPrefixes.Add(name[..^1]);
            }
            else
            {
                _meterNames.Add(name);
            }
        }

        if (histogramBuckets is not null)
        {
            foreach (KeyValuePair<string, double[]> entry in histogramBuckets)
            {
                _histogramBuckets[entry.Key] = HistogramBuckets.Validate(entry.Key, entry.Value);
            }
        }

        _maxSeries = maxSeriesPerInstrument;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };
        // Static lambdas: cached delegates, nothing allocated per measurement.
        _listener.SetMeasurementEventCallback<byte>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, m, tags, state) => ((MetricFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, m, tags, state) => ((MetricFamily)state!).Record((double)m, tags));
        _listener.Start();
    }

    /// <summary>Default histogram bounds, in seconds (100 µs .. 10 s).</summary>
    public static IReadOnlyList<double> DefaultHistogramBuckets => HistogramBuckets.DefaultSeconds;

    /// <summary>Collects observable instruments and writes every family, sorted by name.</summary>
    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        lock (_scrapeGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long generation = ++_generation;
            MetricFamily[] families;
            long dropped;
            lock (_familiesGate)
            {
                families = [.. _families.Values];
                dropped = _droppedByRemovedFamilies;
            }

            foreach (MetricFamily family in families)
            {
                family.ObservationGeneration = generation;
            }

            CollectObservables();
            Array.Sort(families, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            foreach (MetricFamily family in families)
            {
                ExpositionWriter.WriteFamily(writer, family, generation);
                dropped += family.DroppedMeasurements;
            }

            ExpositionWriter.WriteHeader(
                writer,
                DroppedSeriesName,
                "Measurements dropped because their instrument already had the maximum number of series.",
                "counter");
            ExpositionWriter.WriteSample(writer, DroppedSeriesName, string.Empty, dropped);
        }
    }

    /// <summary>The exposition as a string (see <see cref="ContentType"/>).</summary>
    public string Scrape()
    {
        using var writer = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        WriteTo(writer);
        return writer.ToString();
    }

    public void Dispose()
    {
        lock (_scrapeGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _listener.Dispose();
        }
    }

    private void CollectObservables()
    {
        try
        {
            _listener.RecordObservableInstruments();
        }
        catch (AggregateException)
        {
            // A failing callback loses only its own series for this scrape; the others were
            // still collected (MeterListener runs every callback before throwing).
        }
    }

    private bool IsExported(Meter meter)
    {
        if (_meterNames.Contains(meter.Name))
        {
            return true;
        }

        foreach (string prefix in _meterPrefixes)
        {
            if (meter.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!IsExported(instrument.Meter) || MetricKinds.Classify(instrument) is not { } kind)
        {
            return;
        }

        string baseName = PrometheusText.SanitizeMetricName(instrument.Name);
        string name = kind.PrometheusType() == "counter" && !baseName.EndsWith("_total", StringComparison.Ordinal)
            ? baseName + "_total"
            : baseName;
        MetricFamily family;
        lock (_familiesGate)
        {
            if (_families.TryGetValue(name, out MetricFamily? existing))
            {
                // Same name in several meters (e.g. two brokers in one process): one family, as
                // Prometheus requires. A different kind under the same name cannot be merged.
                if (existing.Kind != kind)
                {
                    return;
                }

                family = existing;
            }
            else
            {
                double[]? bounds = kind == MetricKind.Histogram ? ChooseBuckets(instrument, baseName) : null;
                string help = string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Name : instrument.Description;
                family = new MetricFamily(name, help, kind, bounds, _maxSeries);
                _families.Add(name, family);
            }

            family.InstrumentCount++;
        }

        listener.EnableMeasurementEvents(instrument, family);
    }

    private double[] ChooseBuckets(Instrument instrument, string sanitizedName)
    {
        if (_histogramBuckets.TryGetValue(instrument.Name, out double[]? configured)
            || _histogramBuckets.TryGetValue(sanitizedName, out configured))
        {
            return configured;
        }

        // Advice comes from library code we don't control: ignore it rather than fail if it's unusable.
        double[]? advised = HistogramBuckets.FromAdvice(instrument);
        return advised is not null && HistogramBuckets.IsValid(advised) ? advised : HistogramBuckets.DefaultSeconds;
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        if (state is not MetricFamily family)
        {
            return;
        }

        lock (_familiesGate)
        {
            family.InstrumentCount--;
            if (family.InstrumentCount == 0 && _families.TryGetValue(family.Name, out MetricFamily? current) && current == family)
            {
                _families.Remove(family.Name);
                // Keep the dropped counter monotonic after its family goes away.
                _droppedByRemovedFamilies += family.DroppedMeasurements;
            }
        }
    }
}
