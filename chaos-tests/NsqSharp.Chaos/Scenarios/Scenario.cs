using NsqSharp.Chaos.Nemesis;

namespace NsqSharp.Chaos.Scenarios;

/// <summary>A named run: which faults the nemesis draws from, and for how long by default.</summary>
internal sealed record Scenario(string Name, string Description, IReadOnlyList<FaultKind> Faults, TimeSpan DefaultTime)
{
    public bool NeedsNetwork => Faults.Any(f => f.NeedsNetwork());
}

/// <summary>Every scenario <c>chaos-tests/run.sh --scenario=NAME</c> knows (<c>--scenario=list</c> prints them).</summary>
internal static class ScenarioCatalog
{
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    public static IReadOnlyList<Scenario> All { get; } =
    [
        new("kill-leader", "SIGKILL the partition leader, restart it later", [FaultKind.KillLeader], Minute),
        new("kill-node", "SIGKILL a random nsqd, restart it later", [FaultKind.KillNode], Minute),
        new("pause-leader", "SIGSTOP the leader longer than its lease, then SIGCONT", [FaultKind.PauseLeader], Minute),
        new("partition-leader", "cut the leader off from the other members (clients still reach it), then heal", [FaultKind.IsolateLeader], Minute),
        new("partition-halves", "split the members into a majority and a minority", [FaultKind.PartitionHalves], Minute),
        new("bridge", "two sides that cannot see each other and one node that sees both", [FaultKind.BridgePartition], Minute),
        new("one-way", "drop the leader's packets to the other nodes, keep theirs", [FaultKind.OneWayFromLeader], Minute),
        new("packet-loss", "lose 20% of the leader's packets both ways", [FaultKind.PacketLoss], Minute),
        new("slow-link", "rate-limit the leader's link", [FaultKind.SlowLink], Minute),
        new("etcd-restart", "SIGKILL etcd, restart it later", [FaultKind.KillEtcd], Minute),
        new("kill-controller", "SIGKILL the controller lookupd, restart it later", [FaultKind.KillController], Minute),
        new("torn-tail", "stop a follower, cut its newest segment mid-record, restart it", [FaultKind.TornTail], Minute),
        new("bitflip-tail", "stop a follower, flip a bit near its newest segment's end, restart it", [FaultKind.BitFlipTail], Minute),
        new("mixed", "every fault above, drawn at random", Enum.GetValues<FaultKind>(), TimeSpan.FromMinutes(30)),
        new("mixed-process", "the faults that need no network namespaces (kills, pauses, etcd, controller, torn and flipped tails)",
            [.. Enum.GetValues<FaultKind>().Where(f => !f.NeedsNetwork())], TimeSpan.FromMinutes(30)),
    ];

    public static Scenario? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.Ordinal));
}
