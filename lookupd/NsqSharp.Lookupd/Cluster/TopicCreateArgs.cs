using System.Globalization;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Http;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>/topic/create's cluster parameters (partitions, replicas, min_isr): absent is the default, anything but
/// digits is a 400 naming the parameter (digits only, as nsqd's partitions=). Unknown parameters are ignored.</summary>
internal static class TopicCreateArgs
{
    public static ApiResult? TryParse(GoQuery query, out TopicRequest request)
    {
        request = TopicRequest.Defaults;
        if (!TryInt(query, "partitions", out var partitions))
        {
            return ApiResult.Error(400, TopicSettings.InvalidPartitions);
        }

        if (!TryInt(query, "replicas", out var replicas))
        {
            return ApiResult.Error(400, TopicSettings.InvalidReplicas);
        }

        if (!TryInt(query, "min_isr", out var minIsr))
        {
            return ApiResult.Error(400, TopicSettings.InvalidMinIsr);
        }

        request = new TopicRequest(partitions, replicas, minIsr);
        return null;
    }

    private static bool TryInt(GoQuery query, string name, out int? value)
    {
        value = null;
        if (query.Get(name) is not { } text)
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        value = number;
        return true;
    }
}
