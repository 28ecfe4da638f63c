namespace NsqSharp.Nsqd.Cluster;

/// <summary>Cluster mode's additions to the V2 protocol (docs/PROTOCOL.md, "Cluster mode").</summary>
public static class ClusterProtocol
{
    /// <summary>IDENTIFY user_agent of a node forwarding publishes to a leader; such a connection never forwards again.</summary>
    public const string ForwarderUserAgentPrefix = "nsqsharp-forwarder/";

    /// <summary>The node does not lead a writable partition of the topic (and cannot forward there).</summary>
    public const string NotLeader = "E_NOT_LEADER";

    /// <summary>The in-sync replicas did not confirm the publish within the bound: it is not acknowledged.</summary>
    public const string NotEnoughReplicas = "E_NOT_ENOUGH_REPLICAS";

    /// <summary>etcd or the topic's leader could not be reached, so the request cannot be done safely now.</summary>
    public const string ClusterUnavailable = "E_CLUSTER_UNAVAILABLE";

    /// <summary>The NSQ error code and text for a publish that failed in cluster mode, or null for other failures
    /// (which keep upstream's fatal E_PUB_FAILED). Cluster errors leave the connection open: the publisher may retry.</summary>
    public static (string Code, string Message)? ErrorFor(Exception e) => e switch
    {
        ClusterRequestException c => (c.Code, c.Message),
        Broker.NotLeaderException n => (NotLeader, n.Message),
        Broker.NotEnoughReplicasException r => (NotEnoughReplicas, r.Message),
        Storage.AppendTruncatedException t => (NotLeader, t.Message),
        _ => null,
    };
}
