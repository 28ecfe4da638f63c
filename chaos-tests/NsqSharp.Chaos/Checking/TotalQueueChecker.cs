using System.Runtime.InteropServices;
using NsqSharp.Chaos.History;

namespace NsqSharp.Chaos.Checking;

/// <summary>
/// Jepsen's total-queue check, fed one line at a time so memory grows with distinct values, not lines.
/// Per value v, with a = enqueue attempts, k = acked, d = ok dequeues (values compared as text):
/// <list type="bullet">
/// <item>lost += max(0, k - d): acknowledged but never came out;</item>
/// <item>unexpected += d when a = 0: came out but was never enqueued;</item>
/// <item>duplicated += max(0, d - a) when a &gt; 0: came out more often than it went in (allowed);</item>
/// <item>recovered += max(0, min(d, a) - k): came out without an ok (info, never completed, or fail);
///       failed_but_dequeued is the part of it that indeterminate attempts cannot explain, so the fail said so.</item>
/// </list>
/// Plus the order rules (<see cref="OrderChecker"/>). Valid iff lost, unexpected and order violations are 0.
/// The enqueue's invoke value is the value counted; the dequeue's ok value is the one received.
/// Lines with another "f" (and nemesis lines, beyond counting "start") do not touch the queue.
/// </summary>
public sealed class TotalQueueChecker
{
    private const int SampleSize = 20;

    private readonly Dictionary<string, ValueTally> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeCounts> _nodes = new(StringComparer.Ordinal);
    private readonly OrderChecker _order = new();
    private long _ops, _attempted, _acked, _failed, _indeterminate, _dequeued, _faults;

    /// <summary>Checks a whole history (pairing completions with invokes on the way).</summary>
    public static CheckResult Check(IEnumerable<HistoryOp> history)
    {
        var pairer = new OpPairer();
        var checker = new TotalQueueChecker();
        foreach (var op in history)
        {
            checker.Observe(op, pairer.Pair(op));
        }

        return checker.Finish(pairer.Open);
    }

    /// <param name="op">The next line.</param>
    /// <param name="invoke">For a completion, the invoke it completes (<see cref="OpPairer.Pair"/>).</param>
    public void Observe(HistoryOp op, HistoryOp? invoke)
    {
        _ops++;
        if (op.IsNemesis)
        {
            // Jepsen writes a nemesis op as invoke then info; the info is the fault.
            if (op.F == HistoryNames.Start && op.Type != OpType.Invoke)
            {
                _faults++;
            }

            return;
        }

        if (op.F == HistoryNames.Enqueue)
        {
            ObserveEnqueue(op, invoke);
        }
        else if (op.F == HistoryNames.Dequeue && op.Type == OpType.Ok && op.Value is { } value)
        {
            // An ok dequeue without a value is an empty poll: nothing came out.
            _dequeued++;
            ref var tally = ref Tally(value, op.Line);
            tally.Dequeued++;
            tally.DequeueNode ??= op.Node;
            CountNode(op.Node)?.Dequeued += 1;
            _order.Observe(op, tally);
        }
    }

    /// <param name="open">Invokes never completed: their enqueues count as indeterminate.</param>
    public CheckResult Finish(IEnumerable<HistoryOp> open)
    {
        foreach (var op in open)
        {
            if (op.F == HistoryNames.Enqueue && op.Value is { } value)
            {
                Tally(value, op.Line).Indeterminate++;
                _indeterminate++;
            }
        }

        long lost = 0, unexpected = 0, duplicated = 0, recovered = 0, failedButDequeued = 0;
        var lostSample = new FirstSamples<LostValue>(SampleSize);
        var unexpectedSample = new FirstSamples<UnexpectedValue>(SampleSize);
        var duplicatedSample = new FirstSamples<DuplicatedValue>(SampleSize);
        foreach (var (value, t) in _values)
        {
            if (t.Acked > t.Dequeued)
            {
                lost += t.Acked - t.Dequeued;
                lostSample.Offer(t.FirstLine, new LostValue(value, t.AckNode, t.AckLine));
                CountNode(t.AckNode)?.Lost += t.Acked - t.Dequeued;
            }

            if (t.Attempts == 0)
            {
                unexpected += t.Dequeued;
                unexpectedSample.Offer(t.FirstLine, new UnexpectedValue(value, t.DequeueNode, t.FirstLine));
                CountNode(t.DequeueNode)?.Unexpected += t.Dequeued;
                continue;
            }

            if (t.Dequeued > t.Attempts)
            {
                duplicated += t.Dequeued - t.Attempts;
                duplicatedSample.Offer(t.FirstLine, new DuplicatedValue(value, t.Dequeued, t.Attempts));
            }

            var cameOutUnacked = Math.Max(0, Math.Min(t.Dequeued, t.Attempts) - t.Acked);
            recovered += cameOutUnacked;
            failedButDequeued += Math.Max(0, cameOutUnacked - t.Indeterminate);
        }

        return new CheckResult
        {
            Ops = _ops,
            Attempted = _attempted,
            Acked = _acked,
            Failed = _failed,
            Indeterminate = _indeterminate,
            Dequeued = _dequeued,
            Lost = lost,
            Unexpected = unexpected,
            Duplicated = duplicated,
            Recovered = recovered,
            FailedButDequeued = failedButDequeued,
            OrderedDequeues = _order.OrderedDequeues,
            KeyedDequeues = _order.KeyedDequeues,
            OrderViolations = _order.Violations,
            Faults = _faults,
            Nodes = _nodes.OrderBy(n => n.Key, StringComparer.Ordinal)
                .Select(n => new NodeView(n.Key, n.Value.Acked, n.Value.Dequeued, n.Value.Lost, n.Value.Unexpected))
                .ToList(),
            LostSample = lostSample.ToList(),
            UnexpectedSample = unexpectedSample.ToList(),
            DuplicatedSample = duplicatedSample.ToList(),
            OrderViolationSample = [.. _order.Sample],
        };
    }

    private void ObserveEnqueue(HistoryOp op, HistoryOp? invoke)
    {
        if (op.Type == OpType.Invoke)
        {
            var value = op.Value ?? throw new HistoryFormatException(op.Line, "enqueue invoke without a value");
            _attempted++;
            ref var tally = ref Tally(value, op.Line);
            tally.Attempts++;
            if (tally.InvokeLine == 0)
            {
                tally.InvokeLine = op.Line;
            }

            tally.Key ??= op.Key;
            return;
        }

        var attempted = invoke?.Value ?? throw new ArgumentException("an enqueue completion needs the invoke it completes", nameof(invoke));
        ref var t = ref Tally(attempted, op.Line);
        switch (op.Type)
        {
            case OpType.Ok:
                _acked++;
                t.Acked++;
                var node = op.Node ?? invoke.Node;
                if (t.AckLine == 0)
                {
                    t.AckLine = op.Line;
                    t.AckNode = node;
                }

                t.Key ??= op.Key;
                CountNode(node)?.Acked += 1;
                break;
            case OpType.Fail:
                _failed++;
                t.Failed++;
                break;
            default:
                _indeterminate++;
                t.Indeterminate++;
                break;
        }
    }

    private ref ValueTally Tally(string value, long line)
    {
        ref var tally = ref CollectionsMarshal.GetValueRefOrAddDefault(_values, value, out var exists);
        if (!exists)
        {
            tally.FirstLine = line;
        }

        return ref tally;
    }

    private NodeCounts? CountNode(string? node)
    {
        if (node is null)
        {
            return null;
        }

        if (!_nodes.TryGetValue(node, out var counts))
        {
            _nodes.Add(node, counts = new NodeCounts());
        }

        return counts;
    }

    private sealed class NodeCounts
    {
        public long Acked;
        public long Dequeued;
        public long Lost;
        public long Unexpected;
    }
}
