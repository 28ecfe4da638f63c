using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Http;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>
/// Topic and channel actions, cluster-wide: written to etcd, and also to the in-memory registry as standalone does,
/// so /topics and /channels keep upstream's behaviour for nsqd nodes that register over TCP. Ephemeral topics and
/// channels stay in the registry only: they are per-node and short-lived, nothing the cluster should keep.
/// </summary>
internal sealed partial class ClusterHttpApi
{
    /// <summary>POST /topic/create?topic=T[&amp;partitions=P][&amp;replicas=R][&amp;min_isr=M].</summary>
    private async ValueTask<ApiResult> CreateTopic(HttpRequest request)
    {
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        if (!NsqNames.IsValidTopicName(topic))
        {
            return ApiResult.Error(400, "INVALID_ARG_TOPIC");
        }

        if (TopicCreateArgs.TryParse(query, out var topicRequest) is { } badArg)
        {
            return badArg;
        }

        if (TopicSettings.CheckRanges(topicRequest) is { IsValid: false } badRange)
        {
            return ApiResult.Error(400, badRange.Message);
        }

        if (!NsqNames.IsEphemeral(topic))
        {
            if (RefuseUntilAvailable() is { } refused)
            {
                return refused;
            }

            var outcome = await cluster.CreateTopicAsync(topic, topicRequest, request.HttpContext.RequestAborted).ConfigureAwait(false);
            if (Refusal(outcome) is { } refusal)
            {
                return refusal;
            }

            if (outcome.Status == TopicCreateStatus.Created && outcome.Config is { } config)
            {
                logger.LogInformation("CLUSTER: created topic({Topic}) partitions={Partitions} replicas={Replicas} min_isr={MinIsr}",
                    topic, config.Partitions, config.Replicas, config.MinIsr);
            }
        }

        logger.LogInformation("DB: adding topic({Topic})", topic);
        await registry.CreateTopicAsync(topic).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    /// <summary>POST /topic/delete?topic=T: the topic's whole prefix in etcd (config, partitions, channels).</summary>
    private async ValueTask<ApiResult> DeleteTopic(HttpRequest request)
    {
        if (LookupArgs.Topic(request, out var query, out var topic) is { } error)
        {
            return error;
        }

        // Only a valid name can be a cluster topic; any other (one with a '/') must not become a key prefix.
        if (NsqNames.IsValidTopicName(topic))
        {
            if (RefuseUntilAvailable() is { } refused)
            {
                return refused;
            }

            await cluster.DeleteTopicAsync(topic, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }

        logger.LogInformation("DB: removing topic({Topic}) and its channels", topic);
        await registry.DeleteTopicAsync(topic).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    /// <summary>POST /channel/create?topic=T&amp;channel=C: the topic is created cluster-wide with defaults if missing.</summary>
    private async ValueTask<ApiResult> CreateChannel(HttpRequest request)
    {
        if (LookupArgs.TopicChannel(request, out var topic, out var channel) is { } error)
        {
            return error;
        }

        if (!NsqNames.IsEphemeral(topic) && !NsqNames.IsEphemeral(channel))
        {
            if (RefuseUntilAvailable() is { } refused)
            {
                return refused;
            }

            var ct = request.HttpContext.RequestAborted;
            if (LookupCluster.ConfigOf(cluster.View, topic) is null &&
                Refusal(await cluster.CreateTopicAsync(topic, TopicRequest.Defaults, ct).ConfigureAwait(false)) is { } refusal)
            {
                return refusal;
            }

            await cluster.CreateChannelAsync(topic, channel, ct).ConfigureAwait(false);
        }

        logger.LogInformation("DB: adding channel({Channel}) in topic({Topic})", channel, topic);
        await registry.CreateChannelAsync(topic, channel).ConfigureAwait(false);
        return ApiResult.Empty;
    }

    /// <summary>POST /channel/delete?topic=T&amp;channel=C: 404 CHANNEL_NOT_FOUND only when neither etcd nor the registry had it.</summary>
    private async ValueTask<ApiResult> DeleteChannel(HttpRequest request)
    {
        if (LookupArgs.TopicChannel(request, out var topic, out var channel) is { } error)
        {
            return error;
        }

        var inCluster = false;
        if (!NsqNames.IsEphemeral(topic) && !NsqNames.IsEphemeral(channel))
        {
            if (RefuseUntilAvailable() is { } refused)
            {
                return refused;
            }

            inCluster = await cluster.DeleteChannelAsync(topic, channel, request.HttpContext.RequestAborted).ConfigureAwait(false);
        }

        var inRegistry = await registry.DeleteChannelAsync(topic, channel).ConfigureAwait(false);
        if (!inCluster && !inRegistry)
        {
            return ApiResult.Error(404, "CHANNEL_NOT_FOUND");
        }

        logger.LogInformation("DB: removed channel({Channel}) from topic({Topic})", channel, topic);
        return ApiResult.Empty;
    }

    /// <summary>The reply for a create that changed nothing and must say so; null when it succeeded or was idempotent.</summary>
    private static ApiResult? Refusal(TopicCreateOutcome outcome) => outcome.Status switch
    {
        TopicCreateStatus.ExistsWithOtherSettings when outcome.Config is { } existing => ApiResult.Error(400, "TOPIC_EXISTS",
            string.Create(CultureInfo.InvariantCulture, $"partitions {existing.Partitions}, replicas {existing.Replicas}, min_isr {existing.MinIsr}")),
        TopicCreateStatus.Refused when outcome.Check.Problem == TopicSettingsProblem.NoLiveNodes => ApiResult.Error(503, outcome.Check.Message),
        TopicCreateStatus.Refused => ApiResult.Error(400, outcome.Check.Message),
        _ => null,
    };
}
