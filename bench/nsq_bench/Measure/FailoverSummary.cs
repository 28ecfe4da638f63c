namespace NsqSharp.Bench.Measure;

/// <summary>
/// One SIGKILL of a partition leader. FailoverMs: from the kill until the first publish sent after it was acknowledged
/// (null: none within the bound). LookupdMs: until lookupd named a new leader. RecoverMs: from the restart until the
/// node was back in the ISR and its connections published again (null: not restarted, or not back within the bound).
/// Unanswered: publishes on the killed node's connections that its death left without an answer.
/// </summary>
internal sealed record FailoverKill(int Kill, string NodeId, int Pid, long EpochBefore, string? LeaderAfter, long EpochAfter,
    double? FailoverMs, double? LookupdMs, double? RecoverMs, long Unanswered);

/// <summary>What the connections to one node saw over the run: acknowledged, error answers, lost with the connection.</summary>
internal sealed record FailoverNodeCounts(string NodeId, long Acked, long Errors, long Unanswered);

/// <summary>Every kill of a failover run, and what the publishers saw meanwhile.</summary>
internal sealed class FailoverSummary
{
    public List<FailoverKill> Kills { get; } = [];

    /// <summary>Error answers to publishes by their code (E_NOT_ENOUGH_REPLICAS, E_CLUSTER_UNAVAILABLE, ...).</summary>
    public SortedDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    /// <summary>Publishes whose connection closed before they were answered (sent to the killed leader, mostly).</summary>
    public long Unanswered { get; set; }

    /// <summary>Publishes still unanswered when the run ended (after waiting up to 10 s for them).</summary>
    public long PendingAtEnd { get; set; }

    public List<FailoverNodeCounts> Nodes { get; } = [];

    public int Connections { get; set; }

    public double Rate { get; set; }

    public IReadOnlyList<double> FailoverMs => [.. Kills.Where(k => k.FailoverMs is not null).Select(k => k.FailoverMs!.Value)];

    public IReadOnlyList<double> LookupdMs => [.. Kills.Where(k => k.LookupdMs is not null).Select(k => k.LookupdMs!.Value)];

    public IReadOnlyList<double> RecoverMs => [.. Kills.Where(k => k.RecoverMs is not null).Select(k => k.RecoverMs!.Value)];

    /// <summary>Min, median (= p50) and max; zeros for none.</summary>
    public static (double Min, double Median, double Max) Spread(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return (0, 0, 0);
        }

        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        var median = sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return (sorted[0], median, sorted[^1]);
    }
}
