namespace NsqSharp.Client.Tests;

public class BackoffTests
{
    [Fact]
    public void Exponential_is_multiplier_times_two_to_the_attempt()
    {
        var strategy = ExponentialBackoffStrategy.Instance;
        Assert.Equal(TimeSpan.FromSeconds(2), strategy.Calculate(1, TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromSeconds(8), strategy.Calculate(3, TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromMilliseconds(400), strategy.Calculate(2, TimeSpan.FromMilliseconds(100)));
        Assert.Equal(TimeSpan.Zero, strategy.Calculate(5, TimeSpan.Zero));
        Assert.Equal(TimeSpan.MaxValue, strategy.Calculate(1000, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Full_jitter_stays_below_the_exponential_ceiling_and_varies()
    {
        var strategy = new FullJitterBackoffStrategy(new Random(7));
        var seen = new HashSet<TimeSpan>();
        for (var i = 0; i < 200; i++)
        {
            var value = strategy.Calculate(3, TimeSpan.FromSeconds(1));
            Assert.InRange(value, TimeSpan.Zero, TimeSpan.FromSeconds(8) - TimeSpan.FromTicks(1));
            seen.Add(value);
        }

        Assert.True(seen.Count > 100);
    }
}
