using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Cluster;

/// <summary>
/// Cluster mode's publish, one for the TCP and the HTTP API: on the local leader of a writable partition, else forwarded
/// to the leader (one hop: a forwarding node's own connection never forwards again, so a stale view cannot loop). A
/// node made leader while it forwarded publishes here once its roles follow, within the replicated-ack bound.
/// </summary>
internal static class ClusterPublisher
{
    public static async ValueTask PublishAsync(NsqdServer server, IClusterNode cluster, ForwardedPublish forward, Func<Topic, ValueTask> publish,
        bool fromForwarder, CancellationToken ct)
    {
        var time = server.Options.Time;
        var started = time.GetTimestamp();
        while (true)
        {
            var topic = await LocalTopicAsync(server, cluster, forward.Topic, ct).ConfigureAwait(false);
            if (topic != null)
            {
                try
                {
                    await publish(topic).ConfigureAwait(false);
                    return;
                }
                catch (NotLeaderException) when (!fromForwarder)
                {
                }
            }

            if (fromForwarder)
            {
                throw new ClusterRequestException(ClusterProtocol.NotLeader, $"this node does not lead a writable partition of {forward.Topic}");
            }

            if (await cluster.ForwardAsync(forward, ct).ConfigureAwait(false))
            {
                return;
            }

            if (time.GetElapsedTime(started) > server.Options.ReplicatedAckTimeout)
            {
                throw new ClusterRequestException(ClusterProtocol.NotLeader, $"this node was made leader of {forward.Topic} but does not lead it yet");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>The local topic when this node holds partitions of it (creating it cluster-wide first when the cluster
    /// does not know it, as PUB and SUB do standalone), else null.</summary>
    public static async ValueTask<Topic?> LocalTopicAsync(NsqdServer server, IClusterNode cluster, string name, CancellationToken ct)
    {
        if (server.Broker.TryGetTopic(name, out var local) && !local.IsDeleting)
        {
            return local;
        }

        var ids = await cluster.EnsureTopicAsync(name, ct).ConfigureAwait(false);
        return ids.Length == 0 ? null : await server.Broker.GetOrCreateTopicAsync(name, ids, ct).ConfigureAwait(false);
    }
}
