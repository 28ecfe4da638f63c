using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Cluster.Replication.Agent;

// Channels are cluster-wide: a channel created or deleted on one replica (SUB, nsqd's HTTP API, lookupd's
// /channel/create) is written to etcd (/topics/<t>/channels/<c>), and every replica creates or deletes its copy as
// the state says, so a failover finds the channel with its messages. Copies are created from the oldest message:
// until the leader's cursor reaches them, that can only mean redelivery after a failover, never a lost message.
// Ephemeral channels and topics stay local. etcd writes are queued (bounded) and retried while etcd is down.
public sealed partial class ClusterAgent
{
    private readonly Channel<(bool Create, string Topic, string Channel)> _channelWrites =
        System.Threading.Channels.Channel.CreateBounded<(bool, string, string)>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });

    private Task? _channelLoop;

    private async Task SyncChannelsAsync(CancellationToken ct)
    {
        var writes = Task.Run(() => WriteChannelsAsync(ct), CancellationToken.None);
        var seen = ClusterView.Empty;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var view = _watcher.Current;
                ApplyChannels(seen, view);
                seen = view;
                await _watcher.ChangedSinceAsync(view, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogError(e, "cluster: applying channels failed; retrying");
                await DelayAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            }
        }

        await writes.ConfigureAwait(false);
    }

    /// <summary>Local copies follow the state: create what it lists, delete what it listed before and no longer does.</summary>
    private void ApplyChannels(ClusterView before, ClusterView now)
    {
        var broker = _server!.Broker;
        foreach (var topicView in now.Topics.Values)
        {
            if (!broker.TryGetTopic(topicView.Name, out var topic) || topic.IsDeleting)
            {
                continue; // created with the topic (PrecreateKnownChannels asks GetKnownChannelsAsync)
            }

            foreach (var name in topicView.Channels.Keys)
            {
                if (!topic.TryGetChannel(name, out _) && topic.TryGetOrCreateChannel(name, StartPosition.Oldest) is not null)
                {
                    _logger.LogInformation("cluster: channel {Topic}/{Channel} created here (cluster-wide)", topicView.Name, name);
                }
            }

            if (before.Topics.TryGetValue(topicView.Name, out var old))
            {
                foreach (var name in old.Channels.Keys.Where(c => !topicView.Channels.ContainsKey(c)))
                {
                    if (topic.TryGetChannel(name, out _))
                    {
                        _logger.LogInformation("cluster: channel {Topic}/{Channel} deleted here (cluster-wide)", topicView.Name, name);
                        _ = topic.DeleteChannelAsync(name);
                    }
                }
            }
        }
    }

    private async Task WriteChannelsAsync(CancellationToken ct)
    {
        var failures = 0;
        try
        {
            while (await _channelWrites.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                if (!_channelWrites.Reader.TryPeek(out var write))
                {
                    continue;
                }

                var known = _watcher.Current.Topics.TryGetValue(write.Topic, out var t) && t.Channels.ContainsKey(write.Channel);
                try
                {
                    if (write.Create && !known)
                    {
                        await _writer.PutChannelAsync(write.Topic, write.Channel, paused: false, ct).ConfigureAwait(false);
                    }
                    else if (!write.Create && known)
                    {
                        await _writer.DeleteChannelAsync(write.Topic, write.Channel, ct).ConfigureAwait(false);
                    }

                    _channelWrites.Reader.TryRead(out _);
                    failures = 0;
                }
                catch (Exception e) when (e is MetadataStoreUnavailableException or Grpc.Core.RpcException)
                {
                    if (failures++ % 10 == 0)
                    {
                        _logger.LogError("cluster: cannot write channel {Topic}/{Channel} to etcd: {Error}; retrying", write.Topic, write.Channel, e.Message);
                    }

                    await DelayAsync(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The broker's events in cluster mode (<see cref="IControlPlane"/>): channel changes go to etcd.</summary>
    private sealed class ChannelSync(ClusterAgent agent) : IControlPlane
    {
        public void TopicCreated(string topic)
        {
        }

        public void TopicDeleted(string topic)
        {
        }

        public void ChannelCreated(string topic, string channel) => Queue(create: true, topic, channel);

        public void ChannelDeleted(string topic, string channel) => Queue(create: false, topic, channel);

        public Task<IReadOnlyList<string>> GetKnownChannelsAsync(string topic, CancellationToken ct)
        {
            IReadOnlyList<string> names = agent._watcher.Current.Topics.TryGetValue(topic, out var t) ? [.. t.Channels.Keys] : [];
            return Task.FromResult(names);
        }

        private void Queue(bool create, string topic, string channel)
        {
            if (!NsqNames.IsEphemeral(topic) && !NsqNames.IsEphemeral(channel))
            {
                agent._channelWrites.Writer.TryWrite((create, topic, channel));
            }
        }
    }
}
