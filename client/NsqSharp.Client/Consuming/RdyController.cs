using Microsoft.Extensions.Logging;

namespace NsqSharp.Client.Consuming;

/// <summary>
/// Flow control of a consumer across its connections, following go-nsq's rules:
/// <list type="bullet">
/// <item>each connection gets <c>max(1, max_in_flight / connections)</c> (never above nsqd's max_rdy_count), and the
/// sum of RDY never exceeds max_in_flight; a connection that cannot get RDY retries in 5 s;</item>
/// <item>with more connections than max_in_flight (or in backoff) RDY is redistributed every
/// <c>rdy_redistribute_interval</c>: idle holders give it up and random connections get RDY 1;</item>
/// <item>a failure (REQ with backoff) raises the backoff level and sets every connection to RDY 0 for the
/// strategy's duration, after which one random connection gets RDY 1; each success lowers the level, and at 0
/// full RDY returns. Results during a backoff pause are ignored.</item>
/// </list>
/// All state is guarded by one lock; RDY commands are only queued (no I/O under the lock).
/// </summary>
internal sealed class RdyController : IDisposable
{
    internal static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(5);

    private readonly object _gate = new();
    private readonly List<IRdyConnection> _connections = [];
    private readonly Dictionary<IRdyConnection, ITimer> _retryTimers = [];
    private readonly NsqConfig _config;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly ILogger _logger;
    private ITimer? _backoffTimer;
    private ITimer? _redistributeTimer;
    private long _totalRdy;
    private int _maxInFlight;
    private int _backoffCounter;
    private bool _inBackoffTimeout;
    private bool _needRedistribute;
    private bool _stopped;

    public RdyController(NsqConfig config, TimeProvider time, Random random, ILogger logger)
    {
        _config = config;
        _maxInFlight = config.MaxInFlight;
        _time = time;
        _random = random;
        _logger = logger;
    }

    public long TotalRdy
    {
        get
        {
            lock (_gate)
            {
                return _totalRdy;
            }
        }
    }

    public int MaxInFlight
    {
        get
        {
            lock (_gate)
            {
                return _maxInFlight;
            }
        }
    }

    public int BackoffLevel
    {
        get
        {
            lock (_gate)
            {
                return _backoffCounter;
            }
        }
    }

    public bool InBackoffTimeout
    {
        get
        {
            lock (_gate)
            {
                return _inBackoffTimeout;
            }
        }
    }

    /// <summary>Starts the periodic redistribution check.</summary>
    public void Start()
    {
        var interval = _config.RdyRedistributeInterval;
        _redistributeTimer = _time.CreateTimer(static s => ((RdyController)s!).Redistribute(), this, interval, interval);
    }

    public void AddConnection(IRdyConnection connection)
    {
        lock (_gate)
        {
            _connections.Add(connection);
            // pre-emptively lower the others so the newcomer can get its share
            foreach (var other in _connections)
            {
                if (!ReferenceEquals(other, connection))
                {
                    MaybeUpdateRdy(other);
                }
            }

            MaybeUpdateRdy(connection);
        }
    }

    public void RemoveConnection(IRdyConnection connection)
    {
        lock (_gate)
        {
            if (!_connections.Remove(connection))
            {
                return;
            }

            var rdy = connection.RdyCount;
            _totalRdy -= rdy;
            var hadRetry = CancelRetry(connection);
            // toggling out of a redistribution case with RDY to spare: move it to another connection
            if ((hadRetry || rdy > 0) && (_connections.Count == _maxInFlight || _backoffCounter > 0))
            {
                _needRedistribute = true;
            }
        }
    }

    public void ChangeMaxInFlight(int maxInFlight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxInFlight);
        lock (_gate)
        {
            if (_maxInFlight == maxInFlight)
            {
                return;
            }

            _maxInFlight = maxInFlight;
            foreach (var connection in _connections)
            {
                MaybeUpdateRdy(connection);
            }
        }
    }

    /// <summary>A message was finished: one step out of backoff.</summary>
    public void OnSuccess() => StartStopContinueBackoff(BackoffSignal.Resume);

    /// <summary>A message was requeued: with backoff one step in, without it the current level continues.</summary>
    public void OnRequeue(bool backoff) => StartStopContinueBackoff(backoff ? BackoffSignal.Backoff : BackoffSignal.Continue);

    /// <summary>go-nsq's <c>IsStarved</c>: some connection holds in-flight messages near its RDY count.</summary>
    public bool IsStarved()
    {
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                var threshold = (long)(connection.RdyCount * 0.85);
                var inFlight = connection.InFlight;
                if (inFlight >= threshold && inFlight > 0 && !connection.IsClosing)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The periodic check (public for tests).</summary>
    public void Redistribute()
    {
        lock (_gate)
        {
            if (_stopped || _inBackoffTimeout || _connections.Count == 0)
            {
                return;
            }

            if (_connections.Count > _maxInFlight || (_backoffCounter > 0 && _connections.Count > 1))
            {
                _needRedistribute = true;
            }

            if (!_needRedistribute)
            {
                return;
            }

            _needRedistribute = false;
            var candidates = new List<IRdyConnection>(_connections.Count);
            foreach (var connection in _connections)
            {
                if (connection.RdyCount > 0)
                {
                    if (_time.GetElapsedTime(connection.LastMessageTimestamp) > _config.LowRdyIdleTimeout ||
                        _time.GetElapsedTime(connection.LastRdyTimestamp) > _config.LowRdyTimeout)
                    {
                        UpdateRdy(connection, 0);
                    }
                }

                candidates.Add(connection);
            }

            var available = (_backoffCounter > 0 ? 1 : _maxInFlight) - _totalRdy;
            while (candidates.Count > 0 && available > 0)
            {
                available--;
                var index = _random.Next(candidates.Count);
                var chosen = candidates[index];
                candidates.RemoveAt(index);
                UpdateRdy(chosen, 1);
            }
        }
    }

    /// <summary>The backoff pause ended: let one message through on a random connection (public for tests).</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _backoffTimer?.Dispose();
            _backoffTimer = null;
            if (_stopped)
            {
                _inBackoffTimeout = false;
                return;
            }

            if (_connections.Count == 0)
            {
                StartBackoffTimer(TimeSpan.FromSeconds(1));
                return;
            }

            var chosen = _connections[_random.Next(_connections.Count)];
            Log.BackoffResume(_logger, chosen.Address);
            if (!UpdateRdy(chosen, 1))
            {
                StartBackoffTimer(TimeSpan.FromSeconds(1));
                return;
            }

            _inBackoffTimeout = false;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            _redistributeTimer?.Dispose();
            _backoffTimer?.Dispose();
            foreach (var timer in _retryTimers.Values)
            {
                timer.Dispose();
            }

            _retryTimers.Clear();
        }
    }

    private void StartStopContinueBackoff(BackoffSignal signal)
    {
        lock (_gate)
        {
            // results that arrive during a pause don't move the level (avoids racing to max or zero)
            if (_inBackoffTimeout || _stopped)
            {
                return;
            }

            var updated = false;
            switch (signal)
            {
                case BackoffSignal.Resume when _backoffCounter > 0:
                    _backoffCounter--;
                    updated = true;
                    break;
                case BackoffSignal.Backoff:
                    if (_config.BackoffStrategy.Calculate(_backoffCounter + 1, _config.BackoffMultiplier) <= _config.MaxBackoffDuration)
                    {
                        _backoffCounter++;
                        updated = true;
                    }

                    break;
            }

            if (_backoffCounter == 0 && updated)
            {
                var count = PerConnectionMaxInFlight();
                Log.ExitingBackoff(_logger, count);
                foreach (var connection in _connections)
                {
                    UpdateRdy(connection, count);
                }
            }
            else if (_backoffCounter > 0)
            {
                var duration = _config.BackoffStrategy.Calculate(_backoffCounter, _config.BackoffMultiplier);
                if (duration > _config.MaxBackoffDuration)
                {
                    duration = _config.MaxBackoffDuration;
                }

                Log.BackingOff(_logger, duration, _backoffCounter);
                foreach (var connection in _connections)
                {
                    UpdateRdy(connection, 0);
                }

                StartBackoffTimer(duration);
            }
        }
    }

    private void StartBackoffTimer(TimeSpan duration)
    {
        _inBackoffTimeout = duration > TimeSpan.Zero;
        _backoffTimer?.Dispose();
        _backoffTimer = _time.CreateTimer(static s => ((RdyController)s!).Resume(), this, duration, Timeout.InfiniteTimeSpan);
    }

    private long PerConnectionMaxInFlight()
    {
        double max = _maxInFlight;
        var share = max / Math.Max(_connections.Count, 1);
        return (long)Math.Min(Math.Max(1, share), max);
    }

    private void MaybeUpdateRdy(IRdyConnection connection)
    {
        if (_backoffCounter > 0 || _inBackoffTimeout)
        {
            return;
        }

        UpdateRdy(connection, PerConnectionMaxInFlight());
    }

    /// <summary>go-nsq <c>updateRDY</c>: caps, truncates to what max_in_flight leaves, or schedules a retry.</summary>
    private bool UpdateRdy(IRdyConnection connection, long count)
    {
        if (connection.IsClosing)
        {
            return false;
        }

        if (count > connection.MaxRdyCount)
        {
            count = connection.MaxRdyCount;
        }

        CancelRetry(connection);
        var current = connection.RdyCount;
        var maxPossible = _maxInFlight - _totalRdy + current;
        if (maxPossible > 0 && maxPossible < count)
        {
            count = maxPossible;
        }

        if (maxPossible <= 0 && count > 0)
        {
            if (current == 0)
            {
                // could not leave RDY 0: retry later so this connection is not starved forever
                var wanted = count;
                _retryTimers[connection] = _time.CreateTimer(_ => RetryUpdate(connection, wanted), null, RetryDelay,
                    Timeout.InfiniteTimeSpan);
            }

            return false;
        }

        SendRdy(connection, count);
        return true;
    }

    private void RetryUpdate(IRdyConnection connection, long count)
    {
        lock (_gate)
        {
            if (!_stopped && _connections.Contains(connection))
            {
                UpdateRdy(connection, count);
            }
        }
    }

    private void SendRdy(IRdyConnection connection, long count)
    {
        var last = connection.RdyCount;
        if (count == 0 && last == 0)
        {
            return;
        }

        _totalRdy += count - last;
        connection.RdyCount = count;
        if (count > 0)
        {
            connection.LastRdyTimestamp = _time.GetTimestamp();
        }

        if (count != last)
        {
            Log.SendingRdy(_logger, count, connection.Address);
            connection.WriteRdy(count);
        }
    }

    private bool CancelRetry(IRdyConnection connection)
    {
        if (_retryTimers.Remove(connection, out var timer))
        {
            timer.Dispose();
            return true;
        }

        return false;
    }

    private enum BackoffSignal
    {
        Backoff,
        Continue,
        Resume,
    }
}
