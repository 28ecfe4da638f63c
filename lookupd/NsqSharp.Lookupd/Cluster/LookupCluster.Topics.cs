using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;

namespace NsqSharp.Lookupd.Cluster;

internal enum TopicCreateStatus
{
    /// <summary>Written now.</summary>
    Created,

    /// <summary>It existed already and is what was asked (idempotent create).</summary>
    Exists,

    /// <summary>It exists with other settings than those asked: nothing changed.</summary>
    ExistsWithOtherSettings,

    /// <summary>The request or the cluster's state does not allow it (<see cref="TopicCreateOutcome.Check"/> says why).</summary>
    Refused,
}

/// <summary>What a cluster-wide topic create did; <see cref="Config"/> is the topic's config when it exists.</summary>
internal readonly record struct TopicCreateOutcome(TopicCreateStatus Status, TopicConfig? Config, TopicSettingsCheck Check);

internal sealed partial class LookupCluster
{
    private const int CreateAttempts = 3;

    /// <summary>
    /// Creates a replicated topic: settings resolved over the live nodes, partitions placed by
    /// <see cref="Placement.Assign"/>, all written in one transaction guarded by the config key's absence (any lookupd
    /// may create; the controller's term is not needed). A topic created meanwhile by another lookupd is compared
    /// with the request like one that existed before.
    /// </summary>
    public async Task<TopicCreateOutcome> CreateTopicAsync(string topic, TopicRequest request, CancellationToken ct)
    {
        for (int attempt = 0; attempt < CreateAttempts; attempt++)
        {
            var view = View;
            if (ConfigOf(view, topic) is { } existing)
            {
                return Existing(existing, request);
            }

            var check = TopicSettings.Resolve(request, view.Nodes.Count);
            if (check.Config is not { } config)
            {
                return new TopicCreateOutcome(TopicCreateStatus.Refused, null, check);
            }

            var placements = Placement.Assign([.. view.Nodes.Keys], config.Partitions, config.Replicas, view.AllPartitions);
            var created = await Writer.CreateTopicAsync(topic, config, placements, fence: null, ct).ConfigureAwait(false);
            var seen = await WaitForViewAsync(v => ConfigOf(v, topic) is not null, ct).ConfigureAwait(false);
            if (created)
            {
                return new TopicCreateOutcome(TopicCreateStatus.Created, config, check);
            }

            if (seen is not null && ConfigOf(seen, topic) is { } theirs)
            {
                return Existing(theirs, request);
            }

            // Created and deleted again before this view saw it: try once more on a newer view.
        }

        throw new MetadataStoreUnavailableException($"topic {topic} changed under every create attempt");
    }

    /// <summary>Puts the channel's key unless the view has it already (rewriting it would reset its pause flag).</summary>
    public async Task CreateChannelAsync(string topic, string channel, CancellationToken ct)
    {
        if (View.Topics.TryGetValue(topic, out var known) && known.Channels.ContainsKey(channel))
        {
            return;
        }

        await Writer.PutChannelAsync(topic, channel, paused: false, ct).ConfigureAwait(false);
        await WaitForViewAsync(v => v.Topics.TryGetValue(topic, out var t) && t.Channels.ContainsKey(channel), ct).ConfigureAwait(false);
    }

    /// <summary>Deletes the channel's key (idempotent); true if this instance's view had it.</summary>
    public async Task<bool> DeleteChannelAsync(string topic, string channel, CancellationToken ct)
    {
        var had = View.Topics.TryGetValue(topic, out var known) && known.Channels.ContainsKey(channel);
        await Writer.DeleteChannelAsync(topic, channel, ct).ConfigureAwait(false);
        await WaitForViewAsync(v => !v.Topics.TryGetValue(topic, out var t) || !t.Channels.ContainsKey(channel), ct).ConfigureAwait(false);
        return had;
    }

    /// <summary>Deletes everything under the topic's prefix: config, partitions, channels.</summary>
    public async Task DeleteTopicAsync(string topic, CancellationToken ct)
    {
        await Writer.DeleteTopicAsync(topic, ct).ConfigureAwait(false);
        await WaitForViewAsync(v => !v.Topics.ContainsKey(topic), ct).ConfigureAwait(false);
    }

    /// <summary>The topic's config in the view, or null when the cluster does not have it (a registry-only topic).</summary>
    public static TopicConfig? ConfigOf(ClusterView view, string topic) =>
        view.Topics.TryGetValue(topic, out var t) ? t.Config : null;

    private static TopicCreateOutcome Existing(TopicConfig config, TopicRequest request) =>
        new(request.IsSatisfiedBy(config) ? TopicCreateStatus.Exists : TopicCreateStatus.ExistsWithOtherSettings, config, default);
}
