using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Common.Http;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Http;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Cluster;

/// <summary>
/// The HTTP API in cluster mode: upstream's routes, with the topic and channel actions made cluster-wide (etcd) and
/// the discovery answers merged from the cluster's view and the in-memory registry, plus GET /cluster. Everything
/// else is the standalone <see cref="LookupHttpApi"/>'s, which standalone mode uses alone (so it costs nothing
/// there). Actions answer 503 CLUSTER_UNAVAILABLE until the cluster state was read from etcd, and whenever an etcd
/// call fails; discovery keeps answering from the last view. Partials: Admin (actions), Discovery (queries).
/// </summary>
internal sealed partial class ClusterHttpApi(LookupCluster cluster, LookupHttpApi standalone, ILookupRegistry registry, ILogger logger)
{
    public const string Unavailable = "CLUSTER_UNAVAILABLE";

    public void MapRoutes(HttpRouter router)
    {
        standalone.MapRoutes(router, new Dictionary<string, ApiHandler>(StringComparer.Ordinal)
        {
            ["GET /info"] = Info,
            ["GET /lookup"] = Lookup,
            ["GET /topics"] = Topics,
            ["GET /channels"] = Channels,
            ["GET /nodes"] = Nodes,
            ["POST /topic/create"] = Guarded(CreateTopic),
            ["POST /topic/delete"] = Guarded(DeleteTopic),
            ["POST /channel/create"] = Guarded(CreateChannel),
            ["POST /channel/delete"] = Guarded(DeleteChannel),
        });
        router.Handle("GET", "/cluster", State);
    }

    /// <summary>An etcd call that fails (down, no answer within the deadline) is a 503, not the router's 500.</summary>
    private ApiHandler Guarded(ApiHandler handler) => async request =>
    {
        try
        {
            return await handler(request).ConfigureAwait(false);
        }
        catch (MetadataStoreUnavailableException e)
        {
            logger.LogWarning("CLUSTER: {Method} {Path} failed: {Reason}", request.Method, request.Path, e.Message);
            return ApiResult.Error(503, Unavailable);
        }
    };

    /// <summary>The 503 while the state has not been read yet, else null.</summary>
    private ApiResult? RefuseUntilAvailable() => cluster.IsAvailable ? null : ApiResult.Error(503, Unavailable);

    private ValueTask<ApiResult> Info(HttpRequest request) =>
        new(ApiResult.Json(json =>
        {
            json.WriteStartObject();
            json.WriteString("version", ProtocolConstants.CompatibleVersion);
            json.WriteString("cluster_name", cluster.Keys.ClusterName);
            json.WriteEndObject();
        }));

    /// <summary>GET /cluster: this instance's view of the whole cluster.</summary>
    private ValueTask<ApiResult> State(HttpRequest request)
    {
        if (RefuseUntilAvailable() is { } refused)
        {
            return new(refused);
        }

        var view = cluster.View;
        return new(ApiResult.Json(json =>
        {
            json.WriteStartObject();
            json.WriteString("cluster_name", cluster.Keys.ClusterName);
            json.WriteString("id", cluster.CandidateId);
            json.WriteString("controller", view.Controller);
            json.WriteBoolean("is_controller", cluster.IsController);
            json.WriteNumber("revision", view.Revision);
            json.WriteStartArray("nodes");
            foreach (var node in view.Nodes.Values)
            {
                ClusterJson.WriteNode(json, node);
            }

            json.WriteEndArray();
            json.WriteStartArray("topics");
            foreach (var topic in view.Topics.Values)
            {
                json.WriteStartObject();
                json.WriteString("topic", topic.Name);
                if (topic.Config is { } config)
                {
                    ClusterJson.WriteConfig(json, "config", config);
                }
                else
                {
                    json.WriteNull("config");
                }

                LookupJson.WriteStrings(json, "channels", topic.Channels.Keys);
                ClusterJson.WritePartitions(json, "partitions", topic);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }));
    }
}
