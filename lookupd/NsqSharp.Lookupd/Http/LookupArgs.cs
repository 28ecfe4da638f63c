using Microsoft.AspNetCore.Http;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Lookupd.Http;

/// <summary>Query arguments with upstream's errors (internal/http_api), for the standalone and the cluster API.</summary>
internal static class LookupArgs
{
    public static ApiResult InvalidRequest => ApiResult.Error(400, "INVALID_REQUEST");

    /// <summary>The query and its topic argument (not yet checked as a name: some routes answer a bad one their own way),
    /// or upstream's INVALID_REQUEST / MISSING_ARG_TOPIC.</summary>
    public static ApiResult? Topic(HttpRequest request, out GoQuery query, out string topic)
    {
        topic = "";
        if (!GoQuery.TryParse(request.QueryString.Value, out query))
        {
            return InvalidRequest;
        }

        if (query.Get("topic") is not { } t)
        {
            return ApiResult.Error(400, "MISSING_ARG_TOPIC");
        }

        topic = t;
        return null;
    }

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
