using System.Diagnostics.Metrics;
using NsqSharp.Common.Metrics;
using Xunit;

namespace NsqSharp.Common.Tests.Metrics;

public sealed class PrometheusExporterConcurrencyTests : IDisposable
{
    private readonly string _meterName = "test." + Guid.NewGuid().ToString("N");
    private readonly Meter _meter;

    public PrometheusExporterConcurrencyTests()
    {
        _meter = new Meter(_meterName);
    }

    public void Dispose() => _meter.Dispose();

    [Fact]
    public async Task ConcurrentRecordingWhileScrapingLosesNothing()
    {
        using var exporter = new PrometheusExporter([_meterName], new Dictionary<string, double[]> { ["h"] = [0.5] });
        Counter<long> counter = _meter.CreateCounter<long>("ops");
        Histogram<double> histogram = _meter.CreateHistogram<double>("h");
        const int Threads = 4;
        const int PerThread = 50_000;
        string[] topics = Enumerable.Range(0, 10).Select(i => "topic" + i).ToArray();
        using var stop = new CancellationTokenSource();

        Task scraper = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                // Every intermediate scrape is valid text too (a histogram's count may lag its buckets by the
                // observations in progress: prometheus-net reads them apart; the final scrape below is exact).
                ExpositionParser.Parse(exporter.Scrape(), consistentHistograms: false);
            }
        });

        Task[] writers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                string topic = topics[i % topics.Length];
                counter.Add(1, new KeyValuePair<string, object?>("topic", topic), new KeyValuePair<string, object?>("thread", t % 2 == 0 ? "even" : "odd"));
                histogram.Record(i % 2 == 0 ? 0.25 : 1.0);
            }
        })).ToArray();
        await Task.WhenAll(writers);
        await stop.CancelAsync();
        await scraper;

        List<Family> families = ExpositionParser.Parse(exporter.Scrape());
        Family ops = families.Single(f => f.Name == "ops_total");
        Assert.Equal(20, ops.Samples.Count);
        Assert.Equal(Threads * PerThread, ops.Samples.Sum(s => s.Value));
        Assert.All(ops.Samples, s => Assert.Equal(Threads * PerThread / 20, s.Value));

        Family h = families.Single(f => f.Name == "h");
        Assert.Equal(Threads * PerThread / 2, h.Samples.Single(s => s.Name == "h_bucket" && s.Label("le") == "0.5").Value);
        Assert.Equal(Threads * PerThread, h.Samples.Single(s => s.Name == "h_count").Value);
        Assert.Equal(Threads * PerThread * 0.625, h.Samples.Single(s => s.Name == "h_sum").Value);
    }

    [Fact]
    public void RecordingIntoExistingSeriesDoesNotAllocate()
    {
        using var exporter = new PrometheusExporter([_meterName]);
        Counter<long> counter = _meter.CreateCounter<long>("hot");
        Histogram<double> histogram = _meter.CreateHistogram<double>("hot.latency");
        var topic = new KeyValuePair<string, object?>("topic", "orders");
        var channel = new KeyValuePair<string, object?>("channel", "billing");

        void Record()
        {
            counter.Add(1);
            counter.Add(1, topic);
            counter.Add(1, topic, channel);
            histogram.Record(0.002, topic);
        }

        Record(); // first sighting of each tag set creates its series
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            Record();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(10_001, ExpositionParser.Parse(exporter.Scrape()).Single(f => f.Name == "hot_total").Samples.Single(s => s.Labels.Count == 2).Value);
    }
}
