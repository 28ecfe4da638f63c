namespace NsqSharp.Chaos.History;

/// <summary>
/// Matches each completion (ok/fail/info) to its invoke, Jepsen's way: a process has at most one operation
/// open, and its next completion closes it. Nemesis lines are not paired. A completion with nothing open,
/// a second invoke while one is open, or a completion of a different "f" is a broken history and throws.
/// </summary>
public sealed class OpPairer
{
    private readonly Dictionary<string, HistoryOp> _open = new(StringComparer.Ordinal);

    /// <summary>Invokes still open: at the end of a history they are indeterminate, like info.</summary>
    public IReadOnlyCollection<HistoryOp> Open => _open.Values;

    /// <summary>Returns the invoke that <paramref name="op"/> completes; null for an invoke or a nemesis line.</summary>
    public HistoryOp? Pair(HistoryOp op)
    {
        if (op.IsNemesis)
        {
            return null;
        }

        if (op.Type == OpType.Invoke)
        {
            if (!_open.TryAdd(op.Process, op))
            {
                var open = _open[op.Process];
                throw new HistoryFormatException(op.Line, $"process {op.Process} invokes {op.F} while its {open.F} from line {open.Line} is still open");
            }

            return null;
        }

        var type = HistoryNames.TypeName(op.Type);
        if (!_open.Remove(op.Process, out var invoke))
        {
            throw new HistoryFormatException(op.Line, $"{type} {op.F} of process {op.Process} has no open invoke");
        }

        if (invoke.F != op.F)
        {
            throw new HistoryFormatException(op.Line, $"{type} {op.F} of process {op.Process} completes its {invoke.F} from line {invoke.Line}");
        }

        return invoke;
    }
}
