using System.Diagnostics.Metrics;
using System.Text;
using Prometheus;

namespace NsqSharp.Common.Metrics;

/// <summary>
/// Serves System.Diagnostics.Metrics instruments as Prometheus text format 0.0.4 (for /metrics)
/// through prometheus-net: each exporter owns a private <see cref="CollectorRegistry"/> (never the
/// static default one), so several brokers in one process do not mix. A MeterListener maps
/// instruments onto prometheus-net counters, gauges and histograms under our names (instrument name
/// sanitized, "_total" on counters, tags as labels); prometheus-net keeps the values and writes
/// the text. prometheus-net's own MeterAdapter is not used: it prefixes the meter name, exports
/// counters as gauges and keeps vanished series for minutes (docs/ARCHITECTURE.md). Observable
/// instruments are collected on every scrape, so a scrape never returns stale values. Each
/// instrument keeps at most a fixed number of series; the rest is dropped and counted in
/// <c>nsqsharp_metrics_dropped_series_total</c>.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Content-Type of <see cref="Scrape"/> output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public const int DefaultMaxSeriesPerInstrument = 10_000;

    private const string DroppedSeriesName = "nsqsharp_metrics_dropped_series_total";

    private readonly Func<Meter, bool> _isExported;
    private readonly Dictionary<string, double[]> _histogramBuckets = new(StringComparer.Ordinal);
    private readonly int _maxSeries;
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;
    private readonly Counter _dropped;
    private readonly MeterListener _listener;

    private readonly Lock _familiesGate = new(); // guards _families and family instrument counts
    private readonly Dictionary<string, ExportedFamily> _families = new(StringComparer.Ordinal);

    private readonly Lock _scrapeGate = new(); // one collection at a time
    private long _generation;
    private bool _disposed;

    /// <summary>Exports the instruments of one meter instance (not others that share its name).</summary>
    public PrometheusExporter(
        Meter meter,
        IReadOnlyDictionary<string, double[]>? histogramBuckets = null,
        int maxSeriesPerInstrument = DefaultMaxSeriesPerInstrument)
        : this(MatchInstance(meter), histogramBuckets, maxSeriesPerInstrument)
    {
    }

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
        : this(MatchNames(meterNames), histogramBuckets, maxSeriesPerInstrument)
    {
    }

    private PrometheusExporter(Func<Meter, bool> isExported, IReadOnlyDictionary<string, double[]>? histogramBuckets, int maxSeriesPerInstrument)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeriesPerInstrument, 1);
        _isExported = isExported;
        if (histogramBuckets is not null)
        {
            foreach (KeyValuePair<string, double[]> entry in histogramBuckets)
            {
                _histogramBuckets[entry.Key] = HistogramBuckets.Validate(entry.Key, entry.Value);
            }
        }

        _maxSeries = maxSeriesPerInstrument;
        _factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _dropped = _factory.CreateCounter(
            DroppedSeriesName, "Measurements dropped because their instrument already had the maximum number of series.");
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };
        // Static lambdas: cached delegates, nothing allocated per measurement.
        _listener.SetMeasurementEventCallback<byte>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, m, tags, state) => ((ExportedFamily)state!).Record(m, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, m, tags, state) => ((ExportedFamily)state!).Record((double)m, tags));
        _listener.Start();
    }

    /// <summary>Default histogram bounds, in seconds (100 µs .. 10 s).</summary>
    public static IReadOnlyList<double> DefaultHistogramBuckets => HistogramBuckets.DefaultSeconds;

    /// <summary>Collects observable instruments, then writes every metric (see <see cref="ContentType"/>).</summary>
    public string Scrape()
    {
        lock (_scrapeGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CollectObservables();
            using var buffer = new MemoryStream();
            // Completes synchronously: the destination is memory and no async collect callback is registered.
            _registry.CollectAndExportAsTextAsync(buffer).GetAwaiter().GetResult();
            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
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
        long generation = ++_generation;
        ExportedFamily[] observable;
        lock (_familiesGate)
        {
            observable = [.. _families.Values.Where(f => f.Kind.IsObservable())];
        }

        foreach (ExportedFamily family in observable)
        {
            family.ObservationGeneration = generation;
        }

        try
        {
            _listener.RecordObservableInstruments();
        }
        catch (AggregateException)
        {
            // A failing callback loses only its own series for this scrape; the others were
            // still collected (MeterListener runs every callback before throwing).
        }

        foreach (ExportedFamily family in observable)
        {
            family.EndObservation(generation);
        }
    }

    private static Func<Meter, bool> MatchInstance(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        return m => ReferenceEquals(m, meter);
    }

    private static Func<Meter, bool> MatchNames(IEnumerable<string> meterNames)
    {
        ArgumentNullException.ThrowIfNull(meterNames);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var prefixes = new List<string>();
        foreach (string name in meterNames)
        {
            if (name.EndsWith('*'))
            {
                prefixes.Add(name[..^1]);
            }
            else
            {
                names.Add(name);
            }
        }

        return meter => names.Contains(meter.Name) || prefixes.Exists(p => meter.Name.StartsWith(p, StringComparison.Ordinal));
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!_isExported(instrument.Meter) || MetricKinds.Classify(instrument) is not { } kind)
        {
            return;
        }

        string baseName = PrometheusNames.SanitizeMetricName(instrument.Name);
        string name = kind.IsCounter() && !baseName.EndsWith("_total", StringComparison.Ordinal) ? baseName + "_total" : baseName;
        ExportedFamily family;
        lock (_familiesGate)
        {
            if (_families.TryGetValue(name, out ExportedFamily? existing))
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
                family = new ExportedFamily(name, PrometheusNames.EscapeHelp(help), kind, bounds, _maxSeries, _factory, _dropped);
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
            return HistogramBuckets.ForPrometheusNet(configured);
        }

        // Advice comes from library code we don't control: ignore it rather than fail if it's unusable.
        double[]? advised = HistogramBuckets.FromAdvice(instrument);
        return HistogramBuckets.ForPrometheusNet(advised is not null && HistogramBuckets.IsValid(advised) ? advised : HistogramBuckets.DefaultSeconds);
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        if (state is not ExportedFamily family)
        {
            return;
        }

        lock (_familiesGate)
        {
            family.InstrumentCount--;
            if (family.InstrumentCount == 0 && _families.TryGetValue(family.Name, out ExportedFamily? current) && current == family)
            {
                _families.Remove(family.Name);
                family.RemoveAll();
            }
        }
    }
}
