namespace NsqSharp.Tools.ToNsq;

/// <summary>
/// to_nsq's throttle: one token per 1/rate seconds, at most one second's worth banked, starting with one
/// (upstream's balance counter), without a ticker: tokens are computed from elapsed time.
/// </summary>
internal sealed class RateLimiter(long perSecond, TimeProvider time)
{
    private readonly long _intervalTicks = TimeSpan.TicksPerSecond / Math.Max(perSecond, 1);
    private double _balance = 1;
    private long _last = time.GetTimestamp();

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var now = time.GetTimestamp();
            _balance = Math.Min(perSecond, _balance + time.GetElapsedTime(_last, now).Ticks / (double)_intervalTicks);
            _last = now;
            if (_balance >= 1)
            {
                _balance -= 1;
                return;
            }

            var wait = TimeSpan.FromTicks((long)Math.Ceiling((1 - _balance) * _intervalTicks));
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
