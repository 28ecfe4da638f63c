namespace NsqSharp.Cluster.State;

/// <summary>
/// The controller's failover rule for one partition (pure). A leader that is alive stays. Otherwise the new leader
/// is the first live member of the ISR in replica order (the preferred order); the epoch goes up by one and the
/// ISR shrinks to the live members it had. With no live ISR member the partition goes offline (leader null) and
/// waits for one to return, unless the operator allowed unclean election: then any live replica leads, and the
/// ISR becomes just that replica (whatever only the old ISR had is lost; documented).
/// </summary>
public static class LeaderChoice
{
    /// <returns>The new state, or null when nothing needs to change.</returns>
    public static PartitionState? Decide(PartitionState state, IReadOnlySet<string> liveNodes, bool allowUncleanElection)
    {
        if (state.Leader is not null && liveNodes.Contains(state.Leader))
        {
            return null;
        }

        var liveIsr = state.Replicas.Where(r => state.Isr.Contains(r) && liveNodes.Contains(r)).ToList();
        if (liveIsr.Count > 0)
        {
            return state with { Leader = liveIsr[0], LeaderEpoch = state.LeaderEpoch + 1, Isr = liveIsr };
        }

        if (allowUncleanElection)
        {
            var live = state.Replicas.FirstOrDefault(liveNodes.Contains);
            if (live is not null)
            {
                return state with { Leader = live, LeaderEpoch = state.LeaderEpoch + 1, Isr = [live] };
            }
        }

        // Offline: keep the ISR as it was, so the first of its members to return is the one that may lead.
        return state.Leader is null ? null : state with { Leader = null, LeaderEpoch = state.LeaderEpoch + 1 };
    }
}
