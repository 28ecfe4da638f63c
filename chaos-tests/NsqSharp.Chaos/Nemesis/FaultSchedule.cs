namespace NsqSharp.Chaos.Nemesis;

/// <summary>One planned fault: when it starts (after the run's start), how long it lasts, and a seed for its own
/// choices (which node, which half), drawn up front so the same seed always gives the same schedule.</summary>
internal sealed record ScheduledFault(TimeSpan At, FaultKind Kind, TimeSpan Hold, int ChoiceSeed);

/// <summary>
/// The fault plan of a run, a pure function of (kinds, run time, seed): quiet, fault, quiet, fault, ... so every fault
/// is followed by time to recover (the report shows throughput coming back). Holds are long enough to matter: a pause
/// outlasts the lease, a kill outlasts a failover.
/// </summary>
internal static class FaultSchedule
{
    public static IReadOnlyList<ScheduledFault> Plan(IReadOnlyList<FaultKind> kinds, TimeSpan runTime, int seed, TimeSpan leaseTtl)
    {
        ArgumentOutOfRangeException.ThrowIfZero(kinds.Count);
        var random = new Random(seed);
        var plan = new List<ScheduledFault>();
        var at = TimeSpan.FromSeconds(3 + random.Next(0, 3)); // first a few seconds of healthy traffic
        while (true)
        {
            var kind = kinds[random.Next(kinds.Count)];
            var hold = HoldFor(kind, random, leaseTtl);
            var recover = TimeSpan.FromSeconds(4 + random.Next(0, 4));
            if (at + hold + recover > runTime && plan.Count > 0)
            {
                break;
            }

            plan.Add(new ScheduledFault(at, kind, hold, random.Next()));
            at += hold + recover;
        }

        return plan;
    }

    private static TimeSpan HoldFor(FaultKind kind, Random random, TimeSpan leaseTtl) => kind switch
    {
        // Longer than the lease, so the cluster must fail the paused or cut-off leader over.
        FaultKind.PauseLeader or FaultKind.IsolateLeader or FaultKind.OneWayFromLeader =>
            leaseTtl + TimeSpan.FromSeconds(2 + random.Next(0, 4)),
        FaultKind.KillEtcd => TimeSpan.FromSeconds(5 + random.Next(0, 6)),
        // Stop, corrupt and restart happen at the start; the hold is the node's time to catch up.
        FaultKind.TornTail or FaultKind.BitFlipTail => TimeSpan.FromSeconds(2),
        _ => TimeSpan.FromSeconds(3 + random.Next(0, 5)),
    };
}
