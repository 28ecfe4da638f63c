using System.Globalization;

namespace NsqSharp.Cluster.State;

/// <summary>A topic's settings as asked for at create: each null when not given, so its default applies.</summary>
public sealed record TopicRequest(int? Partitions, int? Replicas, int? MinIsr)
{
    public static TopicRequest Defaults { get; } = new(null, null, null);

    /// <summary>
    /// Whether an existing topic already is what was asked: every value given equals its config. Creating an existing
    /// topic with no values, or with its own, is idempotent (as upstream); with others it is refused, not ignored.
    /// </summary>
    public bool IsSatisfiedBy(TopicConfig config) =>
        (Partitions ?? config.Partitions) == config.Partitions
        && (Replicas ?? config.Replicas) == config.Replicas
        && (MinIsr ?? config.MinIsr) == config.MinIsr;
}

/// <summary>Why a <see cref="TopicRequest"/> was refused; <see cref="NoLiveNodes"/> is the cluster's state, not the request's.</summary>
public enum TopicSettingsProblem
{
    None,
    InvalidPartitions,
    InvalidReplicas,
    InvalidMinIsr,
    NoLiveNodes,
}

/// <summary>A request checked: the config to create, or the problem with the V1 error text that names it (code word first).</summary>
public readonly record struct TopicSettingsCheck(TopicConfig? Config, TopicSettingsProblem Problem, string Message)
{
    public bool IsValid => Problem == TopicSettingsProblem.None;

    internal static TopicSettingsCheck Fail(TopicSettingsProblem problem, string message) => new(null, problem, message);
}

/// <summary>
/// The rules of a replicated topic's settings (pure), shared by every place that creates one: 1..1024 partitions,
/// 1..live-node-count replicas (default min(3, live nodes)), 1 &lt;= min_isr &lt;= replicas (default 2 with 3 or more
/// replicas, else 1: one failure tolerated without refusing writes).
/// </summary>
public static class TopicSettings
{
    /// <summary>The partition count bound, as nsqd's (docs/PROTOCOL.md, "Partitions").</summary>
    public const int MaxPartitions = 1024;

    /// <summary>Replicas by default, when that many nodes are alive.</summary>
    public const int DefaultReplicas = 3;

    public const string InvalidPartitions = "INVALID_ARG_PARTITIONS";
    public const string InvalidReplicas = "INVALID_ARG_REPLICAS";
    public const string InvalidMinIsr = "INVALID_ARG_MIN_ISR";
    public const string NoLiveNodes = "NO_LIVE_NODES";

    /// <summary>The checks that need no knowledge of the cluster (so a bad request is refused even while etcd is away).</summary>
    public static TopicSettingsCheck CheckRanges(TopicRequest request)
    {
        if (request.Partitions is < 1 or > MaxPartitions)
        {
            return TopicSettingsCheck.Fail(TopicSettingsProblem.InvalidPartitions, InvalidPartitions);
        }

        if (request.Replicas is < 1)
        {
            return TopicSettingsCheck.Fail(TopicSettingsProblem.InvalidReplicas, InvalidReplicas);
        }

        if (request.MinIsr is < 1)
        {
            return TopicSettingsCheck.Fail(TopicSettingsProblem.InvalidMinIsr, InvalidMinIsr);
        }

        if (request.MinIsr is { } minIsr && request.Replicas is { } replicas && minIsr > replicas)
        {
            return MinIsrAboveReplicas(minIsr, replicas);
        }

        return new TopicSettingsCheck(null, TopicSettingsProblem.None, "");
    }

    /// <summary>Every check, then the defaults filled in for a cluster with <paramref name="liveNodes"/> live nodes.</summary>
    public static TopicSettingsCheck Resolve(TopicRequest request, int liveNodes)
    {
        var ranges = CheckRanges(request);
        if (!ranges.IsValid)
        {
            return ranges;
        }

        if (liveNodes < 1)
        {
            return TopicSettingsCheck.Fail(TopicSettingsProblem.NoLiveNodes, NoLiveNodes);
        }

        var replicas = request.Replicas ?? Math.Min(DefaultReplicas, liveNodes);
        if (replicas > liveNodes)
        {
            return TopicSettingsCheck.Fail(TopicSettingsProblem.InvalidReplicas,
                string.Create(CultureInfo.InvariantCulture, $"{InvalidReplicas} replicas {replicas} > {liveNodes} live nodes"));
        }

        var minIsr = request.MinIsr ?? (replicas >= 3 ? 2 : 1);
        if (minIsr > replicas)
        {
            return MinIsrAboveReplicas(minIsr, replicas);
        }

        return new TopicSettingsCheck(new TopicConfig(request.Partitions ?? 1, replicas, minIsr), TopicSettingsProblem.None, "");
    }

    private static TopicSettingsCheck MinIsrAboveReplicas(int minIsr, int replicas) =>
        TopicSettingsCheck.Fail(TopicSettingsProblem.InvalidMinIsr,
            string.Create(CultureInfo.InvariantCulture, $"{InvalidMinIsr} min_isr {minIsr} > replicas {replicas}"));
}
