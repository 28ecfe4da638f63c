namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// End-to-end processing latency (publish → FIN) percentiles over a sliding window, as upstream's
/// --e2e-processing-latency-percentile: two half-window reservoirs, the older one dropped at each
/// half-window. Bounded: at most 2 × ReservoirSize samples are kept.
/// </summary>
public sealed class LatencyQuantiles
{
    private const int ReservoirSize = 1024;
    private readonly object _gate = new();
    private readonly long _halfWindowMs;
    private long[] _current = new long[ReservoirSize];
    private long[] _previous = new long[ReservoirSize];
    private int _currentSeen;
    private int _previousSeen;
    private readonly TimeProvider _time;
    private long _windowStart;

    public LatencyQuantiles(TimeSpan window, TimeProvider? time = null)
    {
        _halfWindowMs = Math.Max(1, (long)window.TotalMilliseconds / 2);
        _time = time ?? TimeProvider.System;
        _windowStart = _time.MonotonicMs();
    }

    public long Count { get; private set; }

    public void Record(long latencyNs)
    {
        lock (_gate)
        {
            Rotate();
            Count++;
            if (_currentSeen < ReservoirSize)
            {
                _current[_currentSeen] = latencyNs;
            }
            else
            {
                var slot = Random.Shared.Next(_currentSeen + 1);
                if (slot < ReservoirSize)
                {
                    _current[slot] = latencyNs;
                }
            }

            _currentSeen++;
        }
    }

    /// <summary>Latency in ns at each quantile; empty when nothing was recorded in the window.</summary>
    public List<(double Quantile, long Value)> Percentiles(IReadOnlyList<double> quantiles)
    {
        var result = new List<(double, long)>(quantiles.Count);
        long[] samples;
        lock (_gate)
        {
            Rotate();
            var a = Math.Min(_currentSeen, ReservoirSize);
            var b = Math.Min(_previousSeen, ReservoirSize);
            samples = new long[a + b];
            Array.Copy(_current, samples, a);
            Array.Copy(_previous, 0, samples, a, b);
        }

        if (samples.Length == 0)
        {
            return result;
        }

        Array.Sort(samples);
        foreach (var q in quantiles)
        {
            var index = Math.Clamp((int)Math.Ceiling(q * samples.Length) - 1, 0, samples.Length - 1);
            result.Add((q, samples[index]));
        }

        return result;
    }

    private void Rotate()
    {
        var now = _time.MonotonicMs();
        if (now - _windowStart < _halfWindowMs)
        {
            return;
        }

        (_previous, _current) = (_current, _previous);
        _previousSeen = now - _windowStart >= 2 * _halfWindowMs ? 0 : _currentSeen;
        _currentSeen = 0;
        _windowStart = now;
    }
}
