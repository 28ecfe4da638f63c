using System.Globalization;
using NsqSharp.Cluster.Coordination;

namespace NsqSharp.Cluster.State;

public enum ClusterKeyKind
{
    Unknown,
    Node,
    Controller,
    TopicConfig,
    Partition,
    Channel,
}

/// <summary>A key of the layout taken apart: what it is, and its topic/node name, partition and channel.</summary>
public readonly record struct ParsedClusterKey(ClusterKeyKind Kind, string Name, int Partition, string? Channel);

/// <summary>Reads keys written per <see cref="ClusterKeys"/> back into their parts.</summary>
public sealed class ClusterKeysParser(ClusterKeys keys)
{
    public ClusterKeys Keys { get; } = keys;

    public ParsedClusterKey Parse(string key)
    {
        var unknown = new ParsedClusterKey(ClusterKeyKind.Unknown, "", -1, null);
        if (!key.StartsWith(Keys.Root, StringComparison.Ordinal))
        {
            return unknown;
        }

        var rest = key.AsSpan(Keys.Root.Length);
        if (rest.SequenceEqual("controller"))
        {
            return new ParsedClusterKey(ClusterKeyKind.Controller, "", -1, null);
        }

        if (rest.StartsWith("nodes/"))
        {
            var id = rest["nodes/".Length..];
            return id.IsEmpty || id.Contains('/') ? unknown : new ParsedClusterKey(ClusterKeyKind.Node, id.ToString(), -1, null);
        }

        if (!rest.StartsWith("topics/"))
        {
            return unknown;
        }

        rest = rest["topics/".Length..];
        int slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return unknown;
        }

        var topic = rest[..slash].ToString();
        var tail = rest[(slash + 1)..];
        if (tail.SequenceEqual("config"))
        {
            return new ParsedClusterKey(ClusterKeyKind.TopicConfig, topic, -1, null);
        }

        if (tail.StartsWith("partitions/") && int.TryParse(tail["partitions/".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            return new ParsedClusterKey(ClusterKeyKind.Partition, topic, partition, null);
        }

        if (tail.StartsWith("channels/") && tail.Length > "channels/".Length && !tail["channels/".Length..].Contains('/'))
        {
            return new ParsedClusterKey(ClusterKeyKind.Channel, topic, -1, tail["channels/".Length..].ToString());
        }

        return unknown;
    }
}
