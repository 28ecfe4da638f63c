using System.Diagnostics.Metrics;

namespace NsqSharp.Common.Metrics;

/// <summary>How an instrument's measurements are aggregated and which Prometheus type they become.</summary>
internal enum MetricKind
{
    /// <summary>Counter&lt;T&gt;: monotonic sum, Prometheus counter.</summary>
    Counter,

    /// <summary>UpDownCounter&lt;T&gt;: sum that may go down, Prometheus gauge.</summary>
    UpDownCounter,

    /// <summary>Gauge&lt;T&gt;: last recorded value, Prometheus gauge.</summary>
    Gauge,

    /// <summary>ObservableCounter&lt;T&gt;: callback reports the running total, Prometheus counter.</summary>
    ObservableCounter,

    /// <summary>ObservableGauge&lt;T&gt;: callback reports the current value, Prometheus gauge.</summary>
    ObservableGauge,

    /// <summary>ObservableUpDownCounter&lt;T&gt;: callback reports the running total, Prometheus gauge.</summary>
    ObservableUpDownCounter,

    /// <summary>Histogram&lt;T&gt;: fixed explicit buckets, Prometheus histogram.</summary>
    Histogram,
}

internal static class MetricKinds
{
    /// <summary>Kind of a System.Diagnostics.Metrics instrument, or null for types we don't export.</summary>
    public static MetricKind? Classify(Instrument instrument)
    {
        Type type = instrument.GetType();
        if (!type.IsGenericType)
        {
            return null;
        }

        Type definition = type.GetGenericTypeDefinition();
        return definition == typeof(Counter<>) ? MetricKind.Counter
            : definition == typeof(UpDownCounter<>) ? MetricKind.UpDownCounter
            : definition == typeof(Gauge<>) ? MetricKind.Gauge
            : definition == typeof(Histogram<>) ? MetricKind.Histogram
            : definition == typeof(ObservableCounter<>) ? MetricKind.ObservableCounter
            : definition == typeof(ObservableGauge<>) ? MetricKind.ObservableGauge
            : definition == typeof(ObservableUpDownCounter<>) ? MetricKind.ObservableUpDownCounter
            : null;
    }

    public static bool IsObservable(this MetricKind kind) =>
        kind is MetricKind.ObservableCounter or MetricKind.ObservableGauge or MetricKind.ObservableUpDownCounter;

    /// <summary>Exported as a Prometheus counter (name gets "_total").</summary>
    public static bool IsCounter(this MetricKind kind) => kind is MetricKind.Counter or MetricKind.ObservableCounter;
}
