using System.Collections.Immutable;
using System.Text.Json;

namespace NsqSharp.Cluster.State;

/// <summary>A partition's state with the mod revision it was read at (the compare-and-swap's expected value).</summary>
public sealed record VersionedPartition(int Partition, PartitionState State, long ModRevision);

/// <summary>A channel known cluster-wide (created on lookupd or by a consumer), with its pause flag.</summary>
public sealed record ChannelInfo(string Name, bool Paused);

/// <summary>One replicated topic: its config (null while only partitions/channels are seen) and what is under it.</summary>
public sealed record TopicView(string Name, TopicConfig? Config, long ConfigRevision,
    ImmutableSortedDictionary<int, VersionedPartition> Partitions, ImmutableSortedDictionary<string, ChannelInfo> Channels)
{
    public static TopicView Empty(string name) =>
        new(name, null, 0, ImmutableSortedDictionary<int, VersionedPartition>.Empty, ImmutableSortedDictionary.Create<string, ChannelInfo>(StringComparer.Ordinal));
}

/// <summary>
/// An immutable snapshot of one cluster's etcd state at <see cref="Revision"/>: live nodes, the controller, topics
/// with their partitions and channels. Built by <see cref="ClusterWatcher"/> from a prefix read plus watch events,
/// so every change is applied once and in order.
/// </summary>
public sealed record ClusterView(long Revision, ImmutableSortedDictionary<string, NodeRegistration> Nodes, string? Controller,
    ImmutableSortedDictionary<string, TopicView> Topics)
{
    public static ClusterView Empty { get; } = new(0, ImmutableSortedDictionary.Create<string, NodeRegistration>(StringComparer.Ordinal), null,
        ImmutableSortedDictionary.Create<string, TopicView>(StringComparer.Ordinal));

    /// <summary>Every partition of every topic (for placement load and balance).</summary>
    public IEnumerable<PartitionState> AllPartitions => Topics.Values.SelectMany(t => t.Partitions.Values.Select(p => p.State));

    /// <summary>Applies a put of one key. Keys outside the layout are ignored.</summary>
    public ClusterView ApplyPut(ClusterKeysParser keys, string key, ReadOnlyMemory<byte> value, long modRevision) => Apply(keys, key, value, modRevision);

    /// <summary>Applies a delete of one key. Keys outside the layout are ignored.</summary>
    public ClusterView ApplyDelete(ClusterKeysParser keys, string key) => Apply(keys, key, null, 0);

    private ClusterView Apply(ClusterKeysParser keys, string key, ReadOnlyMemory<byte>? value, long modRevision)
    {
        var parsed = keys.Parse(key);
        switch (parsed.Kind)
        {
            case ClusterKeyKind.Node:
                if (value is null)
                {
                    return this with { Nodes = Nodes.Remove(parsed.Name) };
                }

                return TryParse(value.Value, ClusterStateJson.Default.NodeRegistration) is { } node
                    ? this with { Nodes = Nodes.SetItem(parsed.Name, node) } : this;
            case ClusterKeyKind.Controller:
                return this with { Controller = value is null ? null : System.Text.Encoding.UTF8.GetString(value.Value.Span) };
            case ClusterKeyKind.TopicConfig:
                return UpdateTopic(parsed.Name, t => value is null
                    ? t with { Config = null, ConfigRevision = 0 }
                    : t with { Config = TryParse(value.Value, ClusterStateJson.Default.TopicConfig), ConfigRevision = modRevision });
            case ClusterKeyKind.Partition:
                return UpdateTopic(parsed.Name, t =>
                {
                    if (value is null || TryParse(value.Value, ClusterStateJson.Default.PartitionState) is not { } state)
                    {
                        return t with { Partitions = t.Partitions.Remove(parsed.Partition) };
                    }

                    return t with { Partitions = t.Partitions.SetItem(parsed.Partition, new VersionedPartition(parsed.Partition, state, modRevision)) };
                });
            case ClusterKeyKind.Channel:
                return UpdateTopic(parsed.Name, t => value is null
                    ? t with { Channels = t.Channels.Remove(parsed.Channel!) }
                    : t with { Channels = t.Channels.SetItem(parsed.Channel!, new ChannelInfo(parsed.Channel!, ParsePaused(value.Value))) });
            default:
                return this;
        }
    }

    private ClusterView UpdateTopic(string name, Func<TopicView, TopicView> change)
    {
        var topic = change(Topics.TryGetValue(name, out var existing) ? existing : TopicView.Empty(name));
        return topic.Config is null && topic.Partitions.IsEmpty && topic.Channels.IsEmpty
            ? this with { Topics = Topics.Remove(name) }
            : this with { Topics = Topics.SetItem(name, topic) };
    }

    private static T? TryParse<T>(ReadOnlyMemory<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json.Span, type);
        }
        catch (JsonException)
        {
            return null; // a value we cannot read is treated as absent (and logged by the watcher)
        }
    }

    private static bool ParsePaused(ReadOnlyMemory<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("paused", out var p) && p.ValueKind == JsonValueKind.True;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
