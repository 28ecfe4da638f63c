using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.History;
using NsqSharp.Chaos.Reporting;
using Xunit;
using static NsqSharp.Chaos.Tests.Histories;

namespace NsqSharp.Chaos.Tests.Reporting;

/// <summary>Buckets, latency, fault windows and the throughput around faults.</summary>
public sealed class TimelineRecorderTests
{
    private const long Second = 1_000_000_000;
    private const long Milli = 1_000_000;

    [Fact]
    public void BucketsCountAcksPerSecondWithTheirLatency()
    {
        var t = Timeline(
            Enq(0, "invoke", 1, 0), Enq(0, "ok", 1, 2 * Milli),
            Enq(0, "invoke", 2, 10 * Milli), Enq(0, "ok", 2, 14 * Milli),
            Enq(0, "invoke", 3, 20 * Milli), Enq(0, "ok", 3, 30 * Milli),
            Enq(0, "invoke", 4, (2 * Second) + Milli), Enq(0, "fail", 4, (2 * Second) + (2 * Milli)),
            Enq(0, "invoke", 5, 3 * Second), Enq(0, "ok", 5, (3 * Second) + (500 * Milli)));

        Assert.Equal(3.5, t.DurationSeconds);
        Assert.Equal(
            [new TimelineBucket(0, 3, 4, 10), new TimelineBucket(1, 0, null, null), new TimelineBucket(2, 0, null, null), new TimelineBucket(3, 1, 500, 500)],
            t.Buckets);
    }

    [Fact]
    public void StopsPairWithTheirStartAndThroughputIsMeasuredAroundEachFault()
    {
        // One ack every 100 ms for 10 s, none between 4 s and 6 s while "kill n1" lasts.
        var lines = new List<string> { NemesisLine("start", "kill n1", 4 * Second), NemesisLine("start", "pause n2", 9 * Second) };
        for (var i = 0; i < 100; i++)
        {
            var time = i * 100 * Milli;
            if (time is < 4 * Second or >= 6 * Second)
            {
                lines.Add(Enq(0, "invoke", i, time));
                lines.Add(Enq(0, "ok", i, time));
            }
        }

        lines.Insert(42, NemesisLine("stop", "kill n1", 6 * Second));
        var t = Timeline([.. lines]);

        Assert.Equal([new FaultWindow("kill n1", 4, 6), new FaultWindow("pause n2", 9, null)], t.Faults);
        var kill = t.Recovery[0];
        Assert.Equal((2.0, 10.0, 0.0, 10.0), (kill.WindowSeconds, kill.Before, kill.During, kill.After));
        var pause = t.Recovery[1];
        // Never stopped: during runs to the end of the history, 10 acks from 9.0 s to 9.9 s, and there is no after.
        Assert.Equal((1.0, 10.0, null), (pause.WindowSeconds, pause.Before, pause.After));
        Assert.Equal(10 / 0.9, pause.During!.Value, 6);
    }

    [Fact]
    public void EmptyHistoryHasAnEmptyTimeline()
    {
        var t = Timeline();

        Assert.Equal(new Timeline(0, [], [], []), t with { Buckets = [], Faults = [], Recovery = [] });
        Assert.Empty(t.Buckets);
    }

    private static Timeline Timeline(params string[] lines) => HistoryCheck.Run(HistoryReader.ReadText(Text(lines))).Timeline;
}
