using System.Globalization;

namespace NsqSharp.Bench.Cluster;

/// <summary>
/// Where one topic is published and consumed. <see cref="Leaders"/> are the nsqds the load connects to (the nodes
/// leading a partition in cluster mode, upstream's producers otherwise); <see cref="Nodes"/> adds the followers
/// (sampled for CPU/RSS, and the failover mode publishes through them too). <see cref="Source"/> says how they were
/// found: "nsqd" (--nsqd-tcp-address), "cluster" (lookupd's partitions), "producers" (an upstream-style lookupd),
/// "nodes" (an upstream-style lookupd where no nsqd has the topic yet: every registered nsqd).
/// </summary>
internal sealed record TopicRoute(string Topic, IReadOnlyList<RouteNode> Leaders, IReadOnlyList<PartitionInfo>? Partitions,
    IReadOnlyList<RouteNode> Nodes, string Source)
{
    public IReadOnlyList<int> PartitionsLedBy(RouteNode leader) =>
        Partitions is null || leader.NodeId is null ? [] : [.. Partitions.Where(p => p.Leader == leader.NodeId).Select(p => p.Partition)];

    /// <summary>Human lines: the topic, each leader (with the partitions it leads) and, in cluster mode, each partition.</summary>
    public IEnumerable<string> Describe(IReadOnlyList<string> lookupds)
    {
        var via = lookupds.Count == 0 ? "" : $" via lookupd {string.Join(", ", lookupds)}";
        var what = Source switch
        {
            "cluster" => $"{Partitions!.Count} partition{(Partitions.Count == 1 ? "" : "s")}, leaders",
            "producers" => "no partitions in the answer (upstream-style lookupd), producers",
            "nodes" => "no nsqd has the topic yet (upstream-style lookupd), every registered nsqd",
            _ => "nsqd",
        };
        var leaders = Leaders.Select(l => PartitionsLedBy(l) is { Count: > 0 } led
            ? $"{l} (partition{(led.Count == 1 ? "" : "s")} {string.Join(",", led)})"
            : l.ToString());
        yield return $"topic {Topic}{via}: {what} {string.Join(", ", leaders)}";
        foreach (var p in Partitions ?? [])
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"  partition {p.Partition}: leader {p.Leader ?? "none (offline)"}, epoch {p.LeaderEpoch}, replicas {string.Join(",", p.Replicas)}, isr {string.Join(",", p.Isr)}");
        }

        var followers = Nodes.Where(n => !Leaders.Contains(n)).ToList();
        if (followers.Count > 0)
        {
            yield return $"  followers {string.Join(", ", followers)}";
        }
    }
}

/// <summary>The routes of every topic of a run, and the lookupds they came from (none with --nsqd-tcp-address).</summary>
internal sealed class Routes(IReadOnlyList<string> lookupds, IReadOnlyList<TopicRoute> topics)
{
    public IReadOnlyList<string> LookupdAddresses { get; } = lookupds;

    public IReadOnlyList<TopicRoute> Topics { get; } = topics;

    public bool FromLookupd => LookupdAddresses.Count > 0;

    /// <summary>--nsqd-tcp-address: every topic on that one nsqd.</summary>
    public static Routes Standalone(string address, IEnumerable<string> topics)
    {
        var node = new RouteNode(null, address);
        return new Routes([], [.. topics.Distinct(StringComparer.Ordinal).Select(t => new TopicRoute(t, [node], null, [node], "nsqd"))]);
    }

    public TopicRoute Of(string topic) => Topics.First(t => t.Topic == topic);

    /// <summary>The TCP addresses a topic's load connects to, in lookupd's order.</summary>
    public IReadOnlyList<string> Addresses(string topic) => [.. Of(topic).Leaders.Select(l => l.Address)];

    /// <summary>Every address the load connects to, each once.</summary>
    public IReadOnlyList<string> LeaderAddresses => [.. Topics.SelectMany(t => t.Leaders).Select(l => l.Address).Distinct(StringComparer.Ordinal)];

    /// <summary>Every node of the run's topics (leaders and followers), each once: the processes to sample.</summary>
    public IReadOnlyList<string> NodeAddresses =>
        [.. Topics.SelectMany(t => t.Leaders.Concat(t.Nodes)).Select(l => l.Address).Distinct(StringComparer.Ordinal)];

    public IEnumerable<string> Describe() => Topics.SelectMany(t => t.Describe(LookupdAddresses));
}
