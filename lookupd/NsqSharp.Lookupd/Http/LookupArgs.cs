using Microsoft.AspNetCore.Http;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Lookupd.Http;

/// <summary>Query arguments with upstream's errors (internal/http_api), for the standalone and the cluster API.</summary>
internal static class LookupArgs
{
    public static ApiResult InvalidRequest => ApiResult.Error(400, "INVALID_REQUEST");

    /// <summary>Upstream http_api.GetTopicChannelArgs.</summary>
    public static ApiResult? TopicChannel(HttpRequest request, out string topic, out string channel)
    {
        topic = "";
        channel = "";
        if (!GoQuery.TryParse(request.QueryString.Value, out var query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } t)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        if (!NsqNames.IsValidTopicName(t))
        {
            return ApiResult.Error(400, "INVALID_ARG_TOPIC");
        }

        if (query.Get("channel") is not { } c)
        {
            return ApiResult.Error(400, "MISSING_ARG_CHANNEL");
        }

        if (!NsqNames.IsValidChannelName(c))
        {
            return ApiResult.Error(400, "INVALID_ARG_CHANNEL");
        }

        (topic, channel) = (t, c);
        return null;
    }
}
