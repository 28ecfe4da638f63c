using NsqSharp.Chaos.Workload;
using Xunit;

namespace NsqSharp.Chaos.Tests.Workload;

public sealed class DrainRuleTests
{
    private static readonly WorkloadOptions Options = new();

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void ConsumersStartedWithTheDrain_GetTheirIdleTime_FromTheDrainsStart()
    {
        // --consume-after: nothing was dequeued during a 20 s run, so the last dequeue is 20 s old when the drain
        // starts; that is no reason to stop before the consumers have even connected (CI lost 5,716 "acked" this way).
        Assert.False(Options.DrainIsOver(missing: 5966, sinceLastDequeue: S(25), sinceDrainStart: S(0)));
        Assert.False(Options.DrainIsOver(missing: 5966, sinceLastDequeue: S(40), sinceDrainStart: S(19)));
        Assert.True(Options.DrainIsOver(missing: 5966, sinceLastDequeue: S(45), sinceDrainStart: S(20)));
    }

    [Fact]
    public void TheDrainEnds_WhenAllCameOutAndItWasQuiet_OrIdle_OrAtItsBound()
    {
        Assert.False(Options.DrainIsOver(missing: 0, sinceLastDequeue: S(1), sinceDrainStart: S(10)));
        Assert.True(Options.DrainIsOver(missing: 0, sinceLastDequeue: S(3), sinceDrainStart: S(10)));
        Assert.False(Options.DrainIsOver(missing: 3, sinceLastDequeue: S(19), sinceDrainStart: S(30)));
        Assert.True(Options.DrainIsOver(missing: 3, sinceLastDequeue: S(20), sinceDrainStart: S(30)));
        Assert.True(Options.DrainIsOver(missing: 3, sinceLastDequeue: S(1), sinceDrainStart: S(90)));
    }
}
