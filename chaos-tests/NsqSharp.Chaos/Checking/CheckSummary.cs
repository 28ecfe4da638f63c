using System.Globalization;

namespace NsqSharp.Chaos.Checking;

/// <summary>The few human lines printed before the JSON line.</summary>
internal static class CheckSummary
{
    public static IEnumerable<string> Lines(CheckResult r)
    {
        yield return I($"history: {r.Ops:N0} lines, {r.Faults} faults");
        yield return I($"enqueues: {r.Attempted:N0} attempted, {r.Acked:N0} acked, {r.Failed:N0} failed, {r.Indeterminate:N0} indeterminate");
        yield return I($"dequeues: {r.Dequeued:N0} received, {r.OrderedDequeues:N0} order-checked by offset, {r.KeyedDequeues:N0} by key");
        yield return I($"lost {r.Lost:N0} - unexpected {r.Unexpected:N0} - duplicated {r.Duplicated:N0} - recovered {r.Recovered:N0} ({r.FailedButDequeued:N0} failed but dequeued) - order violations {r.OrderViolations:N0}");
        foreach (var n in r.Nodes)
        {
            yield return I($"node {n.Node}: {n.Acked:N0} acked, {n.Dequeued:N0} dequeued, {n.Lost:N0} lost, {n.Unexpected:N0} unexpected");
        }

        if (r.LostSample.Count > 0)
        {
            yield return "lost e.g.: " + string.Join(", ", r.LostSample.Take(5).Select(v => v.Node is null ? v.Value : $"{v.Value} (acked by {v.Node})"));
        }

        if (r.UnexpectedSample.Count > 0)
        {
            yield return "unexpected e.g.: " + string.Join(", ", r.UnexpectedSample.Take(5).Select(v => v.Value));
        }

        foreach (var v in r.OrderViolationSample.Take(5))
        {
            yield return "order: " + v;
        }

        yield return r.Valid ? "valid: yes" : "valid: NO";
    }

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
