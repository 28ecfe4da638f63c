using System.Globalization;
using NsqSharp.Chaos.Cluster;
using NsqSharp.Chaos.Lab;

namespace NsqSharp.Chaos.Nemesis;

/// <summary>A fault in force: what it did (the history's nemesis value) and how to end it.</summary>
internal sealed record ActiveFault(string Description, Func<Task> StopAsync);

/// <summary>
/// Turns a <see cref="ScheduledFault"/> into signals, iptables rules, link shapes or disk damage on the cluster under
/// test. Its choices (which follower, which half) come from the fault's own seed, so a schedule replays the same way;
/// who the leader is comes from the cluster at that moment.
/// </summary>
internal sealed class FaultInjector(ChaosCluster cluster, NetworkFaults? network, string topic, TextWriter log)
{
    private const double LossPercent = 20;
    private const int SlowLinkKbit = 1024;

    /// <summary>Starts the fault; null when it cannot apply now (no leader known, no follower running).</summary>
    public async Task<ActiveFault?> StartAsync(ScheduledFault fault, CancellationToken ct)
    {
        var random = new Random(fault.ChoiceSeed);
        if (fault.Kind.NeedsNetwork() && network is null)
        {
            throw new InvalidOperationException($"{fault.Kind.Slug()} needs the network namespace lab");
        }

        switch (fault.Kind)
        {
            case FaultKind.KillLeader:
                return await WithLeaderAsync(ct, leader =>
                {
                    leader.Kill9();
                    return Started($"kill-leader {leader.Name}", leader.RestartAsync);
                }).ConfigureAwait(false);
            case FaultKind.KillNode:
            {
                var node = Pick(random, cluster.Nodes.Where(n => !n.HasExited));
                if (node is null)
                {
                    return null;
                }

                node.Kill9();
                return Started($"kill-node {node.Name}", node.RestartAsync);
            }

            case FaultKind.PauseLeader:
                return await WithLeaderAsync(ct, leader =>
                {
                    leader.Pause();
                    return Started($"pause-leader {leader.Name}", () =>
                    {
                        leader.Resume();
                        return Task.CompletedTask;
                    });
                }).ConfigureAwait(false);
            case FaultKind.IsolateLeader:
                return await WithLeaderAsync(ct, async leader =>
                {
                    // From the other members only, as Jepsen partitions nodes: clients still reach the old leader, so
                    // a broker that acknowledges what it cannot replicate is caught at it.
                    await network!.IsolateAsync(leader.Name, cluster.Members.Where(m => m != leader).Select(m => m.Name)).ConfigureAwait(false);
                    return Started($"isolate-leader {leader.Name}", network.HealAsync);
                }).ConfigureAwait(false);
            case FaultKind.PartitionHalves:
            {
                var members = cluster.Members.Select(m => m.Name).OrderBy(_ => random.Next()).ToList();
                var halves = await network!.PartitionHalvesAsync(members).ConfigureAwait(false);
                return Started($"partition-halves {halves}", network.HealAsync);
            }

            case FaultKind.BridgePartition:
            {
                var bridge = Pick(random, cluster.Nodes)!;
                var others = cluster.Members.Where(m => m != bridge).Select(m => m.Name).OrderBy(_ => random.Next()).ToList();
                var sideA = others.Take(others.Count / 2).ToList();
                var sideB = others.Skip(others.Count / 2).ToList();
                await network!.BridgeAsync(bridge.Name, sideA, sideB).ConfigureAwait(false);
                return Started($"bridge {bridge.Name} between [{string.Join(' ', sideA)}] and [{string.Join(' ', sideB)}]", network.HealAsync);
            }

            case FaultKind.OneWayFromLeader:
                return await WithLeaderAsync(ct, async leader =>
                {
                    foreach (var node in cluster.Nodes.Where(n => n != leader))
                    {
                        await network!.BlockAsync(leader.Name, node.Name).ConfigureAwait(false);
                    }

                    return Started($"one-way {leader.Name} -> other nodes dropped", network!.HealAsync);
                }).ConfigureAwait(false);
            case FaultKind.PacketLoss:
                return await WithLeaderAsync(ct, async leader =>
                {
                    await network!.LossAsync(leader.Name, LossPercent).ConfigureAwait(false);
                    return Started(string.Create(CultureInfo.InvariantCulture, $"packet-loss {LossPercent}% {leader.Name}"), network.HealAsync);
                }).ConfigureAwait(false);
            case FaultKind.SlowLink:
                return await WithLeaderAsync(ct, async leader =>
                {
                    await network!.SlowAsync(leader.Name, SlowLinkKbit).ConfigureAwait(false);
                    return Started(string.Create(CultureInfo.InvariantCulture, $"slow-link {SlowLinkKbit} kbit/s {leader.Name}"), network.HealAsync);
                }).ConfigureAwait(false);
            case FaultKind.KillEtcd:
                cluster.Etcd.Kill9();
                return Started("kill-etcd", cluster.Etcd.RestartAsync);
            case FaultKind.KillController:
            {
                var controller = await cluster.ControllerAsync(ct).ConfigureAwait(false); // the lookupd member's name
                if (controller is null)
                {
                    log.WriteLine("nemesis: no lookupd says it is the controller now; fault skipped");
                    return null;
                }

                var member = cluster[controller];
                member.Kill9();
                return Started($"kill-controller {member.Name}", member.RestartAsync);
            }

            case FaultKind.TornTail:
            case FaultKind.BitFlipTail:
                return await DamageFollowerTailAsync(fault.Kind, random, ct).ConfigureAwait(false);
            default:
                throw new ArgumentOutOfRangeException(nameof(fault));
        }
    }

    /// <summary>A follower crashes (SIGKILL), the tail of its newest segment is damaged, and it restarts on that data: it
    /// must truncate or refuse the damaged part, never serve it (the checker would see unexpected or lost values).</summary>
    private async Task<ActiveFault?> DamageFollowerTailAsync(FaultKind kind, Random random, CancellationToken ct)
    {
        var leader = await cluster.LeaderAsync(topic, 0, ct).ConfigureAwait(false);
        var follower = Pick(random, cluster.Nodes.Where(n => n.Name != leader && !n.HasExited && !n.IsPaused));
        if (follower is null)
        {
            return null;
        }

        follower.Kill9();
        CorruptionResult damage = kind == FaultKind.TornTail
            ? follower.TearLogTail(topic, 0, 1 + random.Next(0, 64))
            : follower.FlipLogTailBit(topic, 0, 1 + random.Next(0, 256), random.Next(0, 8));
        await follower.RestartAsync().ConfigureAwait(false);
        return Started($"{kind.Slug()} {follower.Name}: {damage}", () => Task.CompletedTask);
    }

    private async Task<ActiveFault?> WithLeaderAsync(CancellationToken ct, Func<ChaosMember, Task<ActiveFault>> apply)
    {
        var leader = await cluster.LeaderAsync(topic, 0, ct).ConfigureAwait(false);
        if (leader is null || cluster.Members.All(m => m.Name != leader))
        {
            log.WriteLine("nemesis: no leader known now; fault skipped");
            return null;
        }

        return await apply(cluster[leader]).ConfigureAwait(false);
    }

    private Task<ActiveFault?> WithLeaderAsync(CancellationToken ct, Func<ChaosMember, ActiveFault> apply) =>
        WithLeaderAsync(ct, leader => Task.FromResult(apply(leader)));

    private static ActiveFault Started(string description, Func<Task> stop) => new(description, stop);

    private static T? Pick<T>(Random random, IEnumerable<T> items) where T : class
    {
        var list = items.ToList();
        return list.Count == 0 ? null : list[random.Next(list.Count)];
    }
}
