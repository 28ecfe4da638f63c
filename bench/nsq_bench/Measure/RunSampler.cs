using System.Diagnostics;
using NsqSharp.Bench.Load;

namespace NsqSharp.Bench.Measure;

/// <summary>
/// Turns counters into a time series: each <see cref="Tick"/> records every series' rate since the
/// previous tick, and the broker's and this tool's CPU/RSS (the tool's own CPU shows whether it,
/// rather than the broker, was the limit). Several broker processes (a cluster's nodes) are summed.
/// </summary>
internal sealed class RunSampler
{
    private readonly (string Name, WorkerCounters Counters)[] _series;
    private readonly ProcessSampler[] _brokers;
    private readonly ProcessSampler _tool = new(Environment.ProcessId);
    private readonly SystemCpuSampler _system = new();
    private readonly long[] _lastTotals;
    private long _startTimestamp;
    private long _lastTimestamp;

    public RunSampler(IReadOnlyList<(string Name, WorkerCounters Counters)> series, IReadOnlyList<ProcessSampler> brokers)
    {
        _series = [.. series];
        _brokers = [.. brokers];
        _lastTotals = new long[_series.Length];
    }

    public IReadOnlyList<string> SeriesNames => Array.ConvertAll(_series, s => s.Name);

    public List<TimeSample> Samples { get; } = [];

    public IReadOnlyList<int> BrokerPids => Array.ConvertAll(_brokers, b => b.Pid);

    /// <summary>Call at the run's start so the first interval and the CPU baselines begin there.</summary>
    public void Begin(long startTimestamp)
    {
        _startTimestamp = _lastTimestamp = startTimestamp;
        foreach (var b in _brokers)
        {
            b.Sample();
        }

        _tool.Sample();
        _system.Sample();
    }

    public TimeSample Tick()
    {
        var now = Stopwatch.GetTimestamp();
        var seconds = Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
        if (seconds < 0.1 && Samples.Count > 0)
        {
            return Samples[^1]; // a sliver of an interval: its rates would be noise
        }

        var rates = new double[_series.Length];
        var totals = new long[_series.Length];
        for (var i = 0; i < _series.Length; i++)
        {
            totals[i] = _series[i].Counters.Total();
            rates[i] = seconds > 0 ? (totals[i] - _lastTotals[i]) / seconds : 0;
            _lastTotals[i] = totals[i];
        }

        _lastTimestamp = now;
        var broker = SampleBrokers();
        var tool = _tool.Sample();
        var system = _system.Sample();
        double? other = system is { } all ? Math.Max(0, all - (broker?.CpuPercent ?? 0) - (tool?.CpuPercent ?? 0)) : null;
        var sample = new TimeSample(Stopwatch.GetElapsedTime(_startTimestamp, now).TotalSeconds, rates, totals,
            broker?.CpuPercent, broker?.RssMib, tool?.CpuPercent, other);
        Samples.Add(sample);
        return sample;
    }

    /// <summary>The brokers' CPU and RSS added up (those still alive); null when none answered.</summary>
    private (double CpuPercent, double RssMib)? SampleBrokers()
    {
        (double CpuPercent, double RssMib)? sum = null;
        foreach (var b in _brokers)
        {
            if (b.Sample() is { } s)
            {
                sum = sum is { } t ? (t.CpuPercent + s.CpuPercent, t.RssMib + s.RssMib) : s;
            }
        }

        return sum;
    }
}
