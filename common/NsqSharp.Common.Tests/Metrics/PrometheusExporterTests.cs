using System.Diagnostics.Metrics;
using NsqSharp.Common.Metrics;
using Xunit;

namespace NsqSharp.Common.Tests.Metrics;

public sealed class PrometheusExporterTests : IDisposable
{
    // A unique meter name per test: MeterListener sees every meter in the process, and tests run in parallel.
    private readonly string _meterName = "test." + Guid.NewGuid().ToString("N");
    private readonly Meter _meter;

    public PrometheusExporterTests()
    {
        _meter = new Meter(_meterName);
    }

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void CounterIsSummedPerTagSetWithTotalSuffix()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Counter<long> counter = _meter.CreateCounter<long>("nsqd.messages", description: "Messages published.");
        counter.Add(2);
        counter.Add(3);
        counter.Add(1, new KeyValuePair<string, object?>("topic", "a"));
        counter.Add(4, new KeyValuePair<string, object?>("topic", "a"));
        counter.Add(7, new KeyValuePair<string, object?>("topic", "b"));

        Family family = Single(exporter, "nsqd_messages_total");
        Assert.Equal("counter", family.Type);
        Assert.Equal("Messages published.", family.Help);
        Assert.Equal(5, Value(family, []));
        Assert.Equal(5, Value(family, [("topic", "a")]));
        Assert.Equal(7, Value(family, [("topic", "b")]));
    }

    [Fact]
    public void CounterIgnoresNegativeAndNaNIncrements()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Counter<double> counter = _meter.CreateCounter<double>("c");
        counter.Add(1.5);
        counter.Add(-1);
        counter.Add(double.NaN);
        Assert.Equal(1.5, Value(Single(exporter, "c_total"), []));
    }

    [Fact]
    public void NamesAreSanitizedAndExistingTotalSuffixKept()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateCounter<int>("nsqd.bytes-in/out").Add(1);
        _meter.CreateCounter<int>("requests_total").Add(1);
        _meter.CreateUpDownCounter<int>("9lives").Add(1);
        string text = exporter.Scrape();
        List<Family> families = ExpositionParser.Parse(text);
        Assert.Contains(families, f => f.Name == "nsqd_bytes_in_out_total");
        Assert.Contains(families, f => f.Name == "requests_total");
        Assert.Contains(families, f => f.Name == "_9lives");
    }

    [Fact]
    public void UpDownCounterIsAGaugeThatCanGoDown()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        UpDownCounter<int> depth = _meter.CreateUpDownCounter<int>("depth");
        depth.Add(10);
        depth.Add(-4);
        Family family = Single(exporter, "depth");
        Assert.Equal("gauge", family.Type);
        Assert.Equal(6, Value(family, []));
    }

    [Fact]
    public void GaugeKeepsLastValue()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Gauge<double> gauge = _meter.CreateGauge<double>("temperature");
        gauge.Record(3);
        gauge.Record(-2.5);
        gauge.Record(1, new KeyValuePair<string, object?>("node", "n1"));
        Family family = Single(exporter, "temperature");
        Assert.Equal("gauge", family.Type);
        Assert.Equal(-2.5, Value(family, []));
        Assert.Equal(1, Value(family, [("node", "n1")]));
    }

    [Fact]
    public void ObservableInstrumentsAreCollectedAtScrapeTime()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        long total = 0;
        int depth = 0;
        int calls = 0;
        _meter.CreateObservableCounter("sent", () => { calls++; return total; });
        _meter.CreateObservableGauge("depth", () => new Measurement<int>(depth, new KeyValuePair<string, object?>("topic", "t")));
        _meter.CreateObservableUpDownCounter("inflight", () => (double)depth / 2);
        Assert.Equal(0, calls); // nothing is polled until a scrape

        total = 42;
        depth = 8;
        List<Family> first = ExpositionParser.Parse(exporter.Scrape());
        Assert.Equal(1, calls);
        Assert.Equal("counter", first.Single(f => f.Name == "sent_total").Type);
        Assert.Equal(42, Value(first.Single(f => f.Name == "sent_total"), []));
        Assert.Equal(8, Value(first.Single(f => f.Name == "depth"), [("topic", "t")]));
        Assert.Equal("gauge", first.Single(f => f.Name == "inflight").Type);
        Assert.Equal(4, Value(first.Single(f => f.Name == "inflight"), []));

        total = 50; // observable counters report running totals: the value is replaced, not added
        List<Family> second = ExpositionParser.Parse(exporter.Scrape());
        Assert.Equal(50, Value(second.Single(f => f.Name == "sent_total"), []));
    }

    [Fact]
    public void ObservableSeriesNotReportedAnyMoreDisappear()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        var topics = new List<string> { "a", "b" };
        _meter.CreateObservableGauge("topic.depth", () => topics.Select(t => new Measurement<long>(t.Length, new KeyValuePair<string, object?>("topic", t))));
        Assert.Equal(2, Single(exporter, "topic_depth").Samples.Count);
        topics.Remove("a");
        Assert.Equal("b", Single(exporter, "topic_depth").Samples.Single().Label("topic"));
        topics.Clear();
        AssertNoSamples(exporter, "topic_depth");
    }

    [Fact]
    public void UnlabelledObservableSeriesNotReportedDisappearsAndComesBack()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        bool report = true;
        _meter.CreateObservableGauge("clients", () => report ? [new Measurement<int>(4)] : Array.Empty<Measurement<int>>());
        Assert.Equal(4, Value(Single(exporter, "clients"), []));
        report = false;
        AssertNoSamples(exporter, "clients");
        report = true;
        Assert.Equal(4, Value(Single(exporter, "clients"), []));
    }

    [Fact]
    public void ObservableCounterThatGoesDownStartsAgain()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        long total = 10;
        _meter.CreateObservableCounter("messages", () => new Measurement<long>(total, new KeyValuePair<string, object?>("topic", "t")));
        Assert.Equal(10, Value(Single(exporter, "messages_total"), [("topic", "t")]));
        total = 3; // topic deleted and re-created: Prometheus sees a counter reset
        Assert.Equal(3, Value(Single(exporter, "messages_total"), [("topic", "t")]));
    }

    [Fact]
    public void ScrapeReturnsValuesObservedAtThatMoment()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        long published = 0;
        _meter.CreateObservableCounter("published", () => published);
        for (int i = 1; i <= 50; i++)
        {
            published = i;
            Assert.Equal(i, Value(Single(exporter, "published_total"), []));
        }
    }

    [Fact]
    public void FailingObservableCallbackDoesNotBreakTheScrape()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateObservableGauge("broken", new Func<int>(() => throw new InvalidOperationException("boom")));
        _meter.CreateObservableGauge("working", () => 3);
        List<Family> families = ExpositionParser.Parse(exporter.Scrape());
        Assert.Equal(3, Value(families.Single(f => f.Name == "working"), []));
        Assert.DoesNotContain(families, f => f.Name == "broken");
    }

    [Fact]
    public void HistogramBucketsAreCumulativeWithInclusiveUpperBounds()
    {
        var buckets = new Dictionary<string, double[]> { ["latency"] = [0.01, 0.1, 1, 10] };
        using var exporter = new PrometheusExporter([_meterName], buckets);
        Histogram<double> histogram = _meter.CreateHistogram<double>("latency", unit: "s");
        foreach (double v in new[] { 0.001, 0.05, 0.1, 3, 100, -1 })
        {
            histogram.Record(v, new KeyValuePair<string, object?>("op", "pub"));
        }

        histogram.Record(double.NaN, new KeyValuePair<string, object?>("op", "pub")); // ignored

        Family family = Single(exporter, "latency");
        Assert.Equal("histogram", family.Type);
        var bucketCounts = family.Samples.Where(s => s.Name == "latency_bucket")
            .Select(s => (s.Label("le"), s.Value)).ToList();
        Assert.Equal([("0.01", 2), ("0.1", 4), ("1", 4), ("10", 5), ("+Inf", 6)], bucketCounts);
        Assert.Equal(6, family.Samples.Single(s => s.Name == "latency_count").Value);
        Assert.Equal(0.001 + 0.05 + 0.1 + 3 + 100 - 1, family.Samples.Single(s => s.Name == "latency_sum").Value, 9);
        Assert.All(family.Samples, s => Assert.Equal("pub", s.Label("op")));
    }

    [Fact]
    public void HistogramUsesDefaultSecondsBucketsOrInstrumentAdvice()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateHistogram<double>("plain").Record(0.0003);
        _meter.CreateHistogram<long>("advised", advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [10, 100] }).Record(50);
        List<Family> families = ExpositionParser.Parse(exporter.Scrape());

        string[] defaults = families.Single(f => f.Name == "plain").Samples.Where(s => s.Name == "plain_bucket").Select(s => s.Label("le")).ToArray();
        Assert.Equal(PrometheusExporter.DefaultHistogramBuckets.Count + 1, defaults.Length);
        Assert.Equal("0.0001", defaults[0]);
        Assert.Equal("10", defaults[^2]);
        Assert.Equal(1, families.Single(f => f.Name == "plain").Samples.Single(s => s.Name == "plain_bucket" && s.Label("le") == "0.0005").Value);

        var advised = families.Single(f => f.Name == "advised").Samples.Where(s => s.Name == "advised_bucket").Select(s => (s.Label("le"), s.Value));
        Assert.Equal([("10", 0), ("100", 1), ("+Inf", 1)], advised);
    }

    [Fact]
    public void RejectsInvalidBucketConfiguration()
    {
        Assert.Throws<ArgumentException>(() => new PrometheusExporter([_meterName], new Dictionary<string, double[]> { ["h"] = [1, 1] }));
        Assert.Throws<ArgumentException>(() => new PrometheusExporter([_meterName], new Dictionary<string, double[]> { ["h"] = [2, 1] }));
        Assert.Throws<ArgumentException>(() => new PrometheusExporter([_meterName], new Dictionary<string, double[]> { ["h"] = [double.PositiveInfinity] }));
    }

    [Fact]
    public void LabelNamesAreSanitizedAndValuesEscaped()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Counter<int> counter = _meter.CreateCounter<int>("escapes", description: "Line one\nback\\slash \"quoted\"");
        counter.Add(1, new KeyValuePair<string, object?>("topic.name", "a\\b\"c\nd"), new KeyValuePair<string, object?>("9x", 12), new KeyValuePair<string, object?>("ok", true));
        string text = exporter.Scrape();
        Assert.Contains("# HELP escapes_total Line one\\nback\\\\slash \"quoted\"\n", text);
        Assert.Contains("escapes_total{_9x=\"12\",ok=\"true\",topic_name=\"a\\\\b\\\"c\\nd\"} 1\n", text);

        Sample sample = Single(exporter, "escapes_total").Samples.Single();
        Assert.Equal("a\\b\"c\nd", sample.Label("topic_name"));
    }

    [Fact]
    public void TagOrderDoesNotSplitSeries()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Counter<int> counter = _meter.CreateCounter<int>("ordered");
        var a = new KeyValuePair<string, object?>("a", "1");
        var b = new KeyValuePair<string, object?>("b", "2");
        counter.Add(1, a, b);
        counter.Add(2, b, a);
        counter.Add(4, a, b);
        Assert.Equal(7, Value(Single(exporter, "ordered_total"), [("a", "1"), ("b", "2")]));
    }

    [Fact]
    public void HistogramTagNamedLeIsRenamed()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateHistogram<double>("h").Record(1, new KeyValuePair<string, object?>("le", "x"));
        Assert.All(Single(exporter, "h").Samples, s => Assert.Equal("x", s.Label("le_")));
    }

    [Fact]
    public void SeriesPerInstrumentAreCappedAndDropsCounted()
    {
        using var exporter = new PrometheusExporter([_meterName], maxSeriesPerInstrument: 3);
        Counter<int> counter = _meter.CreateCounter<int>("capped");
        for (int i = 0; i < 5; i++)
        {
            counter.Add(1, new KeyValuePair<string, object?>("id", i));
        }

        counter.Add(1, new KeyValuePair<string, object?>("id", 0)); // existing series still counts
        List<Family> families = ExpositionParser.Parse(exporter.Scrape());
        Family capped = families.Single(f => f.Name == "capped_total");
        Assert.Equal(3, capped.Samples.Count);
        Assert.Equal(2, Value(capped, [("id", "0")]));
        Family dropped = families.Single(f => f.Name == "nsqsharp_metrics_dropped_series_total");
        Assert.Equal("counter", dropped.Type);
        Assert.Equal(2, dropped.Samples.Single().Value);
    }

    [Fact]
    public void OnlyRequestedMetersAreExportedAndPrefixesWork()
    {
        using var other = new Meter("other." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter([_meterName]);
        using var prefixExporter = new PrometheusExporter([_meterName[..10] + "*"]);
        _meter.CreateCounter<int>("mine").Add(1);
        other.CreateCounter<int>("theirs").Add(1);
        List<Family> families = ExpositionParser.Parse(exporter.Scrape());
        Assert.Contains(families, f => f.Name == "mine_total");
        Assert.DoesNotContain(families, f => f.Name == "theirs_total");
        Assert.Contains(ExpositionParser.Parse(prefixExporter.Scrape()), f => f.Name == "mine_total");
    }

    [Fact]
    public void SameInstrumentNameInTwoMetersIsOneFamily()
    {
        using var second = new Meter(_meterName);
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateCounter<int>("shared").Add(2);
        second.CreateCounter<int>("shared").Add(3);
        second.CreateGauge<int>("shared_total").Record(1); // same exposition name, other kind: ignored
        Assert.Equal(5, Value(Single(exporter, "shared_total"), []));
    }

    [Fact]
    public void DisposedMeterRemovesItsFamilies()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        var shortLived = new Meter(_meterName);
        shortLived.CreateCounter<int>("gone").Add(1);
        Assert.Contains(ExpositionParser.Parse(exporter.Scrape()), f => f.Name == "gone_total");
        shortLived.Dispose();
        AssertNoSamples(exporter, "gone_total");
    }

    [Fact]
    public void ExporterOfOneMeterInstanceIgnoresOtherMetersWithTheSameName()
    {
        // Two brokers in one process both have a meter named "NsqSharp.Nsqd": each /metrics shows its own.
        using var other = new Meter(_meterName);
        using var exporter = new PrometheusExporter(_meter);
        using var otherExporter = new PrometheusExporter(other);
        _meter.CreateObservableGauge("depth", () => 1);
        other.CreateObservableGauge("depth", () => 2);
        Assert.Equal(1, Value(Single(exporter, "depth"), []));
        Assert.Equal(2, Value(Single(otherExporter, "depth"), []));
    }

    [Fact]
    public void InstrumentsCreatedBeforeTheExporterAreExported()
    {
        Counter<int> early = _meter.CreateCounter<int>("early");
        using var exporter = new PrometheusExporter([_meterName]);
        early.Add(9);
        Assert.Equal(9, Value(Single(exporter, "early_total"), []));
    }

    [Fact]
    public void DisposeStopsListening()
    {
        var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateCounter<int>("x").Add(1);
        exporter.Dispose();
        exporter.Dispose();
        Assert.Throws<ObjectDisposedException>(() => exporter.Scrape());
    }

    [Fact]
    public void AllValueTypesAreAccepted()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateCounter<byte>("b").Add(1);
        _meter.CreateCounter<short>("s").Add(2);
        _meter.CreateCounter<int>("i").Add(3);
        _meter.CreateCounter<long>("l").Add(4);
        _meter.CreateCounter<float>("f").Add(5.5f);
        _meter.CreateCounter<double>("d").Add(6.25);
        _meter.CreateCounter<decimal>("m").Add(7.5m);
        List<Family> families = ExpositionParser.Parse(exporter.Scrape());
        double[] values = new[] { "b_total", "s_total", "i_total", "l_total", "f_total", "d_total", "m_total" }
            .Select(n => families.Single(f => f.Name == n).Samples.Single().Value).ToArray();
        Assert.Equal([1, 2, 3, 4, 5.5, 6.25, 7.5], values);
    }

    [Fact]
    public void EmptyExporterStillWritesValidTextWithDroppedCounter()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        string text = exporter.Scrape();
        Assert.Equal(
            "# HELP nsqsharp_metrics_dropped_series_total Measurements dropped because their instrument already had the maximum number of series.\n"
            + "# TYPE nsqsharp_metrics_dropped_series_total counter\n"
            + "nsqsharp_metrics_dropped_series_total 0\n",
            text);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", PrometheusExporter.ContentType);
    }

    [Fact]
    public void SpecialValuesAreFormattedForPrometheus()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Gauge<double> gauge = _meter.CreateGauge<double>("special");
        gauge.Record(double.PositiveInfinity, new KeyValuePair<string, object?>("k", "inf"));
        gauge.Record(double.NegativeInfinity, new KeyValuePair<string, object?>("k", "-inf"));
        gauge.Record(double.NaN, new KeyValuePair<string, object?>("k", "nan"));
        gauge.Record(1e-7, new KeyValuePair<string, object?>("k", "tiny"));
        gauge.Record(123456789012345, new KeyValuePair<string, object?>("k", "big"));
        string text = exporter.Scrape();
        // prometheus-net spells infinities as .NET does; Go's ParseFloat (Prometheus) reads them.
        Assert.Contains("special{k=\"inf\"} Infinity\n", text);
        Assert.Contains("special{k=\"-inf\"} -Infinity\n", text);
        Assert.Contains("special{k=\"nan\"} NaN\n", text);
        Assert.Contains("special{k=\"big\"} 123456789012345\n", text);
        Family special = Single(exporter, "special");
        Assert.Equal(1e-7, Value(special, [("k", "tiny")]));
        Assert.Equal(double.PositiveInfinity, Value(special, [("k", "inf")]));
        Assert.Equal(double.NegativeInfinity, Value(special, [("k", "-inf")]));
    }

    [Fact]
    public void ReservedLabelNamesAreRenamed()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        _meter.CreateCounter<int>("reserved").Add(1, new KeyValuePair<string, object?>("__name", "x"), new KeyValuePair<string, object?>("a:b", "y"));
        Sample sample = Single(exporter, "reserved_total").Samples.Single();
        Assert.Equal("x", sample.Label("_name"));
        Assert.Equal("y", sample.Label("a_b"));
    }

    private static void AssertNoSamples(PrometheusExporter exporter, string name)
    {
        // A family whose series have all gone keeps its HELP/TYPE lines in prometheus-net (valid text).
        Assert.All(ExpositionParser.Parse(exporter.Scrape()).Where(f => f.Name == name), f => Assert.Empty(f.Samples));
    }

    private static Family Single(PrometheusExporter exporter, string name) =>
        ExpositionParser.Parse(exporter.Scrape()).Single(f => f.Name == name);

    private static double Value(Family family, (string Name, string Value)[] labels) =>
        family.Samples.Single(s => s.Labels.Count == labels.Length && labels.All(l => s.Labels.TryGetValue(l.Name, out string? v) && v == l.Value)).Value;
}
