namespace NsqSharp.Common.Metrics;

/// <summary>
/// Aggregated state of one label set: a value (sum, last value or observation) or, for
/// histograms, per-bucket counts and a sum. All updates are lock-free.
/// </summary>
internal sealed class MetricSeries
{
    private readonly long[]? _bucketCounts; // one per bound, plus the overflow (+Inf) bucket
    private double _value;
    private double _sum;
    private long _generation;

    public MetricSeries(string labels, int boundCount)
    {
        Labels = labels;
        if (boundCount >= 0)
        {
            _bucketCounts = new long[boundCount + 1];
        }
    }

    /// <summary>Canonical label text without braces, e.g. <c>channel="c",topic="t"</c>.</summary>
    public string Labels { get; }

    public double Value => Volatile.Read(ref _value);

    public double Sum => Volatile.Read(ref _sum);

    public void Add(double delta) => AtomicDouble.Add(ref _value, delta);

    public void Set(double value) => Volatile.Write(ref _value, value);

    /// <summary>
    /// Observable instruments report totals at collection time; several observations of the same
    /// series in one collection add up. Only the scraping thread calls this.
    /// </summary>
    public void Observe(double value, long generation)
    {
        if (_generation != generation)
        {
            _generation = generation;
            Volatile.Write(ref _value, value);
        }
        else
        {
            Volatile.Write(ref _value, _value + value);
        }
    }

    public bool WasObservedIn(long generation) => _generation == generation;

    public void RecordHistogram(double value, double[] bounds)
    {
        // Buckets are "less than or equal": an exact match lands in that bound's bucket.
        int index = bounds.AsSpan().BinarySearch(value);
        if (index < 0)
        {
            index = ~index;
        }

        Interlocked.Increment(ref _bucketCounts![index]);
        AtomicDouble.Add(ref _sum, value);
    }

    /// <summary>Copies the non-cumulative bucket counts into <paramref name="destination"/>.</summary>
    public void ReadBuckets(Span<long> destination)
    {
        for (int i = 0; i < _bucketCounts!.Length; i++)
        {
            destination[i] = Interlocked.Read(ref _bucketCounts[i]);
        }
    }
}
