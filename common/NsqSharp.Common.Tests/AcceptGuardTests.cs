using NsqSharp.Common.Net;
using Xunit;

namespace NsqSharp.Common.Tests;

public sealed class AcceptGuardTests
{
    /// <summary>A clock the test moves by hand (GetTimestamp in ticks of 100 ns).</summary>
    private sealed class SteppedTime : TimeProvider
    {
        public long Now { get; set; }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Now;

        public void Advance(TimeSpan by) => Now += by.Ticks;
    }

    [Fact]
    public void AcceptFailuresWaitFiveMillisecondsDoublingToOneSecondAndResetOnSuccess()
    {
        var backoff = new AcceptBackoff();
        var delays = Enumerable.Range(0, 10).Select(_ => backoff.Failed().TotalMilliseconds).ToArray();
        Assert.Equal([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000], delays);

        backoff.Succeeded();
        Assert.Equal(TimeSpan.FromMilliseconds(5), backoff.Failed());
    }

    [Fact]
    public void RepeatedEventsAreLoggedOncePerIntervalWithTheCountInBetween()
    {
        var time = new SteppedTime();
        var log = new LogRateLimiter(TimeSpan.FromSeconds(10), time);
        Assert.True(log.ShouldLog(out var suppressed));
        Assert.Equal(0, suppressed);

        for (var i = 0; i < 1000; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(5));
            Assert.False(log.ShouldLog(out _));
        }

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(log.ShouldLog(out suppressed));
        Assert.Equal(1000, suppressed);
    }

    [Fact]
    public void ConnectionLimitCountsEntersAndExits()
    {
        var limit = new ConnectionLimit(2);
        Assert.True(limit.TryEnter());
        Assert.True(limit.TryEnter());
        Assert.False(limit.TryEnter());
        Assert.Equal(2, limit.Count);
        limit.Exit();
        Assert.True(limit.TryEnter());

        var unlimited = new ConnectionLimit(0);
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(unlimited.TryEnter());
        }
    }

    [Fact]
    public void DescriptorReserveIsAnEighthOfTheLimitWithinBounds()
    {
        if (DescriptorLimit.SoftLimit == long.MaxValue)
        {
            Assert.Equal(long.MaxValue, DescriptorLimit.Threshold);
            return;
        }

        Assert.InRange(DescriptorLimit.Reserve, 128, 1024);
        Assert.Equal(DescriptorLimit.SoftLimit - DescriptorLimit.Reserve, DescriptorLimit.Threshold);
    }
}
