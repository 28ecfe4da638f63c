namespace NsqSharp.Chaos.Nemesis;

/// <summary>Every fault the nemesis can inject. Network faults need the namespace lab; the rest also run on loopback.</summary>
internal enum FaultKind
{
    /// <summary>SIGKILL the partition's leader; restarted (same data) when the fault ends.</summary>
    KillLeader,

    /// <summary>SIGKILL a random nsqd; restarted when the fault ends.</summary>
    KillNode,

    /// <summary>SIGSTOP the leader for longer than its lease, then SIGCONT.</summary>
    PauseLeader,

    /// <summary>The leader cut off from every other member (etcd, lookupds, nodes); clients still reach it.</summary>
    IsolateLeader,

    /// <summary>The members split into a majority and a minority half.</summary>
    PartitionHalves,

    /// <summary>Two sides that cannot see each other, and one node that sees both.</summary>
    BridgePartition,

    /// <summary>The leader's packets to the other nodes dropped, theirs to it kept.</summary>
    OneWayFromLeader,

    /// <summary>A share of the leader's packets lost both ways.</summary>
    PacketLoss,

    /// <summary>The leader's link rate-limited (queueing delay; netem delay where the kernel has it).</summary>
    SlowLink,

    /// <summary>etcd SIGKILLed, restarted when the fault ends.</summary>
    KillEtcd,

    /// <summary>The controller lookupd SIGKILLed, restarted when the fault ends.</summary>
    KillController,

    /// <summary>A follower stopped, the tail of its newest segment cut mid-record, restarted.</summary>
    TornTail,

    /// <summary>A follower stopped, a bit of the tail of its newest segment flipped, restarted.</summary>
    BitFlipTail,
}

internal static class FaultKinds
{
    public static bool NeedsNetwork(this FaultKind kind) => kind is FaultKind.IsolateLeader or FaultKind.PartitionHalves
        or FaultKind.BridgePartition or FaultKind.OneWayFromLeader or FaultKind.PacketLoss or FaultKind.SlowLink;

    /// <summary>The name used in scenario lists and history lines ("kill-leader").</summary>
    public static string Slug(this FaultKind kind) => kind switch
    {
        FaultKind.KillLeader => "kill-leader",
        FaultKind.KillNode => "kill-node",
        FaultKind.PauseLeader => "pause-leader",
        FaultKind.IsolateLeader => "isolate-leader",
        FaultKind.PartitionHalves => "partition-halves",
        FaultKind.BridgePartition => "bridge",
        FaultKind.OneWayFromLeader => "one-way",
        FaultKind.PacketLoss => "packet-loss",
        FaultKind.SlowLink => "slow-link",
        FaultKind.KillEtcd => "kill-etcd",
        FaultKind.KillController => "kill-controller",
        FaultKind.TornTail => "torn-tail",
        FaultKind.BitFlipTail => "bitflip-tail",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
