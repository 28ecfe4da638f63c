using NsqSharp.Bench.Cluster;

namespace NsqSharp.Bench.Modes;

/// <summary>A publishing connection: the topic it publishes to and the nsqd it connects to.</summary>
internal sealed record PublishTarget(string Topic, string Address);

/// <summary>A consuming connection: topic, channel and the nsqd it subscribes on.</summary>
internal sealed record ConsumeTarget(string Topic, string Channel, string Address);

/// <summary>
/// Spreads connections over the routes. Every slot (topic x leader for publishers; topic x channel x leader for
/// consumers) gets a connection, and connection i takes slot i mod slots, so there are max(connections, slots):
/// against one nsqd this is bench_writer's and bench_reader's assignment; against a cluster each consumer slot is one
/// leader's partitions, so at least one connection per leader is what makes a reader see every partition.
/// </summary>
internal static class TargetAssignment
{
    public static List<PublishTarget> Publishers(IReadOnlyList<string> topics, Routes routes, int connections) =>
        Spread([.. topics.SelectMany(t => routes.Addresses(t).Select(a => new PublishTarget(t, a)))], connections);

    public static List<ConsumeTarget> Consumers(IReadOnlyList<string> topics, IReadOnlyList<string> channels, Routes routes, int connections) =>
        Spread([.. topics.SelectMany(t => channels.SelectMany(c => routes.Addresses(t).Select(a => new ConsumeTarget(t, c, a))))], connections);

    private static List<T> Spread<T>(List<T> slots, int connections) =>
        slots.Count == 0 ? [] : [.. Enumerable.Range(0, Math.Max(connections, slots.Count)).Select(i => slots[i % slots.Count])];
}
