using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Nsqd.Http;

internal sealed record StatsFilter(string? Topic, string? Channel, bool IncludeClients, bool IncludeMemory);

internal sealed record ClientStats(
    string ClientId, string Hostname, string RemoteAddress, int State, long ReadyCount, int InFlightCount,
    long MessageCount, long FinishCount, long RequeueCount, long ConnectTs, int SampleRate, bool Deflate, bool Snappy,
    string UserAgent, bool Authed, string AuthIdentity, string AuthIdentityUrl, string TopologyZone, string TopologyRegion,
    List<(string Topic, long Count)> PubCounts, bool Tls, string TlsCipherSuite, string TlsVersion);

/// <summary>Clients is null with include_clients=false (upstream "clients":null); ClientCount counts them regardless.</summary>
internal sealed record ChannelStats(
    string Name, long Depth, int InFlightCount, int DeferredCount, long MessageCount, long RequeueCount, long TimeoutCount,
    int ClientCount, List<ClientStats>? Clients, bool Paused, long E2ECount, List<(double Quantile, long Value)> E2E);

internal sealed record TopicStats(
    string Name, List<ChannelStats> Channels, long Depth, long MessageCount, long MessageBytes, bool Paused,
    long E2ECount, List<(double Quantile, long Value)> E2E, List<PartitionStats> Partitions);

internal sealed record PartitionStats(int Partition, long StartOffset, long EndOffset, long SizeBytes, long LogEnd, Cluster.PartitionReplicaInfo? Replica);

/// <summary>
/// A point-in-time copy of everything /stats reports, sorted by name as upstream. Topics and
/// Producers are null when the topic filter names no existing topic (upstream returns an empty Stats).
/// </summary>
internal sealed record StatsSnapshot(string Health, long StartTime, TimeSpan Uptime, List<TopicStats>? Topics, List<ClientStats>? Producers,
    bool IncludeMemory)
{
    public static StatsSnapshot Take(NsqdServer server, StatsFilter filter)
    {
        var health = server.Broker.Health ?? "OK";
        var uptime = DateTimeOffset.UtcNow - server.StartTime;
        if (filter.Topic != null && !server.Broker.TryGetTopic(filter.Topic, out _))
        {
            return new StatsSnapshot(health, server.StartTime.ToUnixTimeSeconds(), uptime, null, null, filter.IncludeMemory);
        }

        var percentiles = server.Options.E2EProcessingLatencyPercentiles;
        var byChannel = new Dictionary<Channel, List<ClientStats>>();
        var producers = new List<ClientStats>();
        foreach (var client in server.Clients)
        {
            var stats = Client(client);
            if (client.SubscribedChannel is { } ch)
            {
                if (!byChannel.TryGetValue(ch, out var list))
                {
                    byChannel[ch] = list = [];
                }

                list.Add(stats);
            }

            if (!client.PubCounts.IsEmpty)
            {
                producers.Add(stats);
            }
        }

        var topics = new List<TopicStats>();
        foreach (var topic in server.Broker.Topics)
        {
            if (filter.Topic != null && topic.Name != filter.Topic)
            {
                continue;
            }

            // Upstream skips a topic that lacks the filtered channel altogether.
            if (filter.Channel != null && !topic.TryGetChannel(filter.Channel, out _))
            {
                continue;
            }

            var channels = new List<ChannelStats>();
            long e2eCount = 0;
            var topicSamples = new List<(double, long)>();
            foreach (var channel in topic.Channels)
            {
                if (filter.Channel != null && channel.Name != filter.Channel)
                {
                    continue;
                }

                var e2e = percentiles.Count > 0 ? channel.E2ELatency.Percentiles(percentiles) : [];
                e2eCount += channel.E2ELatency.Count;
                MergeMax(topicSamples, e2e);
                List<ClientStats>? clients = null;
                if (filter.IncludeClients)
                {
                    clients = byChannel.TryGetValue(channel, out var cl) ? cl : [];
                    clients.Sort(static (a, b) => string.CompareOrdinal(a.ClientId, b.ClientId));
                }

                channels.Add(new ChannelStats(channel.Name, channel.Depth, channel.InFlightCount, channel.DeferredCount, channel.MessageCount,
                    channel.RequeueCount, channel.TimeoutCount, channel.Clients.Length, clients, channel.Paused, channel.E2ELatency.Count, e2e));
            }

            channels.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            var partitions = new List<PartitionStats>();
            foreach (var log in topic.Partitions)
            {
                partitions.Add(new PartitionStats(log.Partition, log.StartOffset, log.HighWatermark, log.SizeBytes, log.LogEnd,
                    server.Cluster?.Describe(topic.Name, log.Partition)));
            }

            topics.Add(new TopicStats(topic.Name, channels, topic.Depth, topic.MessageCount, topic.MessageBytes, topic.Paused, e2eCount,
                topicSamples, partitions));
        }

        topics.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new StatsSnapshot(health, server.StartTime.ToUnixTimeSeconds(), uptime, topics, filter.IncludeClients ? producers : null,
            filter.IncludeMemory);
    }

    /// <summary>Upstream merges channel quantiles into the topic's; we report the largest value per quantile.</summary>
    private static void MergeMax(List<(double Quantile, long Value)> into, List<(double Quantile, long Value)> from)
    {
        foreach (var (q, v) in from)
        {
            var index = into.FindIndex(x => x.Quantile == q);
            if (index < 0)
            {
                into.Add((q, v));
            }
            else if (into[index].Value < v)
            {
                into[index] = (q, v);
            }
        }
    }

    private static ClientStats Client(ClientConnection c)
    {
        var pubs = new List<(string, long)>();
        foreach (var (topic, count) in c.PubCounts)
        {
            pubs.Add((topic, count));
        }

        pubs.Sort(static (a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        var auth = c.AuthState;
        return new ClientStats(c.Name, c.Hostname, c.RemoteAddress, (int)c.State, c.ReadyCount, c.InFlightCount, c.MessageCount,
            c.FinishCount, c.RequeueCount, c.ConnectTs, c.SampleRate, c.Deflate, c.Snappy, c.UserAgent, auth != null,
            auth?.Identity ?? "", auth?.IdentityUrl ?? "", c.TopologyZone, c.TopologyRegion, pubs, c.Tls, c.TlsCipherSuite, c.TlsVersion);
    }
}
