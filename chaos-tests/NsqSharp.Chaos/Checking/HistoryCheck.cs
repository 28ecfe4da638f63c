using NsqSharp.Chaos.History;
using NsqSharp.Chaos.Reporting;

namespace NsqSharp.Chaos.Checking;

/// <summary>The checker's verdict and the report's timeline, from one pass over the history.</summary>
public sealed record HistoryCheckOutcome(CheckResult Result, Timeline Timeline);

/// <summary>One streaming pass: pair each line with its invoke, feed the checker and the timeline.</summary>
public static class HistoryCheck
{
    /// <exception cref="HistoryFormatException">A line is malformed or contradicts the ones before it.</exception>
    public static HistoryCheckOutcome Run(IEnumerable<HistoryOp> history)
    {
        var pairer = new OpPairer();
        var checker = new TotalQueueChecker();
        var timeline = new TimelineRecorder();
        foreach (var op in history)
        {
            var invoke = pairer.Pair(op);
            checker.Observe(op, invoke);
            timeline.Observe(op, invoke);
        }

        return new HistoryCheckOutcome(checker.Finish(pairer.Open), timeline.Finish());
    }
}
