namespace NsqSharp.Common.Net;

/// <summary>
/// What a TCP accept loop does when accept() fails (EMFILE/ENFILE at the descriptor limit, ENOBUFS,
/// ECONNABORTED, ...): the connection that could not be accepted stays in the backlog, so retrying at
/// once spins. Instead wait 5 ms, doubling up to 1 s while the failures go on (Go's net/http
/// Server.Serve), back to no wait after the next successful accept; and report at most one log line per
/// interval (<see cref="Log"/>). One instance per accept loop (not thread-safe). Shared by nsqd and
/// nsqlookupd.
/// </summary>
public sealed class AcceptBackoff
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    private TimeSpan _delay;

    public AcceptBackoff(TimeProvider? time = null, TimeSpan? logInterval = null)
    {
        Log = new LogRateLimiter(logInterval ?? TimeSpan.FromSeconds(10), time);
    }

    /// <summary>Decides which failures are logged.</summary>
    public LogRateLimiter Log { get; }

    /// <summary>Records a failed accept and returns how long to wait before accepting again.</summary>
    public TimeSpan Failed()
    {
        _delay = _delay == TimeSpan.Zero ? FirstDelay : TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, MaxDelay.Ticks));
        return _delay;
    }

    /// <summary>
    /// Records a failed accept, reports it when the rate limit allows (<paramref name="report"/> gets the delay and
    /// how many failures went unreported since the last report) and waits. False when cancelled meanwhile.
    /// </summary>
    public async Task<bool> FailedAndWaitAsync(Action<TimeSpan, long> report, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(report);
        var delay = Failed();
        if (Log.ShouldLog(out var suppressed))
        {
            report(delay, suppressed);
        }

        try
        {
            await Task.Delay(delay, ct).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Records a successful accept: the next failure waits the shortest time again.</summary>
    public void Succeeded() => _delay = TimeSpan.Zero;
}
