namespace NsqSharp.Common.Net;

/// <summary>
/// At most one log line per interval for an event that can repeat thousands of times a second
/// (accept failures, refused connections); the line that is written says how many were not.
/// Thread-safe.
/// </summary>
public sealed class LogRateLimiter
{
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private long _lastLogTimestamp;
    private bool _logged;
    private long _unreported;

    public LogRateLimiter(TimeSpan interval, TimeProvider? time = null)
    {
        Interval = interval;
        _time = time ?? TimeProvider.System;
    }

    public TimeSpan Interval { get; }

    /// <summary>True when this occurrence should be logged; suppressed is then the count of those not logged since the last one.</summary>
    public bool ShouldLog(out long suppressed)
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_logged && _time.GetElapsedTime(_lastLogTimestamp, now) < Interval)
            {
                _unreported++;
                suppressed = 0;
                return false;
            }

            suppressed = _unreported;
            _unreported = 0;
            _logged = true;
            _lastLogTimestamp = now;
            return true;
        }
    }
}
