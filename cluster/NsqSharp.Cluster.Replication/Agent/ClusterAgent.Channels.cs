using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Cluster.State;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Cluster.Replication.Agent;

// Channels are cluster-wide: a channel created, deleted, paused or unpaused on one replica (SUB, nsqd's HTTP API,
// lookupd's /channel/create) is written to etcd (/topics/<t>/channels/<c>), and every replica creates, deletes, pauses
// or unpauses its copy as the state says, so a failover finds the channel with its messages. Copies are created from the oldest message:
// until the leader's cursor reaches them, that can only mean redelivery after a failover, never a lost message.
// Ephemeral channels and topics stay local. etcd writes are queued (bounded) and retried while etcd is down.
public sealed partial class ClusterAgent
{
    private readonly Channel<ChannelWrite> _channelWrites =
        System.Threading.Channels.Channel.CreateBounded<ChannelWrite>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropOldest });

    private enum ChannelChange
    {
        Create,
        Delete,
        Pause,
        Unpause,
    }

    private readonly record struct ChannelWrite(ChannelChange Change, string Topic, string Channel);

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

    /// <summary>Local copies follow the state: create what it lists, delete what it listed before and no longer does.
    /// A topic deleted cluster-wide (lookupd's /topic/delete) goes here too, data and all: recreated later, it starts
    /// again at epoch 1, which the old log (with its later epochs) could not take.</summary>
    private void ApplyChannels(ClusterView before, ClusterView now)
    {
        var broker = _server!.Broker;
        foreach (var gone in before.Topics.Values.Where(t => t.Config is not null && now.Topics.GetValueOrDefault(t.Name)?.Config is null))
        {
            if (broker.TryGetTopic(gone.Name, out _))
            {
                _logger.LogInformation("cluster: topic {Topic} deleted here (cluster-wide)", gone.Name);
                _ = broker.DeleteTopicAsync(gone.Name);
            }
        }

        foreach (var topicView in now.Topics.Values)
        {
            if (!broker.TryGetTopic(topicView.Name, out var topic) || topic.IsDeleting)
            {
                continue; // created with the topic (PrecreateKnownChannels asks GetKnownChannelsAsync)
            }

            before.Topics.TryGetValue(topicView.Name, out var old);
            foreach (var (name, info) in topicView.Channels)
            {
                if (!topic.TryGetChannel(name, out var channel))
                {
                    channel = topic.TryGetOrCreateChannel(name, StartPosition.Oldest);
                    if (channel is null)
                    {
                        continue;
                    }

                    _logger.LogInformation("cluster: channel {Topic}/{Channel} created here (cluster-wide)", topicView.Name, name);
                }

                // Only a changed key moves the flag: a local pause on its way to etcd must not be undone by the old value.
                if (old is null || !old.Channels.TryGetValue(name, out var was) || was != info)
                {
                    channel.ApplyReplicatedPause(info.Paused);
                }
            }

            if (old is not null)
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

                var topicView = _watcher.Current.Topics.GetValueOrDefault(write.Topic);
                var known = topicView?.Channels.GetValueOrDefault(write.Channel);
                try
                {
                    switch (write.Change)
                    {
                        case ChannelChange.Create when known is null && topicView?.Config is not null:
                            await _writer.PutChannelAsync(write.Topic, write.Channel, paused: false, ct).ConfigureAwait(false);
                            break;
                        case ChannelChange.Delete when known is not null:
                            await _writer.DeleteChannelAsync(write.Topic, write.Channel, ct).ConfigureAwait(false);
                            break;
                        case ChannelChange.Pause or ChannelChange.Unpause when topicView?.Config is not null && known?.Paused != (write.Change == ChannelChange.Pause):
                            await _writer.PutChannelAsync(write.Topic, write.Channel, paused: write.Change == ChannelChange.Pause, ct).ConfigureAwait(false);
                            break;
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

        public void ChannelCreated(string topic, string channel) => Queue(ChannelChange.Create, topic, channel);

        public void ChannelDeleted(string topic, string channel) => Queue(ChannelChange.Delete, topic, channel);

        public void ChannelPauseChanged(string topic, string channel, bool paused) =>
            Queue(paused ? ChannelChange.Pause : ChannelChange.Unpause, topic, channel);

        public Task<IReadOnlyList<string>> GetKnownChannelsAsync(string topic, CancellationToken ct)
        {
            IReadOnlyList<string> names = agent._watcher.Current.Topics.TryGetValue(topic, out var t) ? [.. t.Channels.Keys] : [];
            return Task.FromResult(names);
        }

        private void Queue(ChannelChange change, string topic, string channel)
        {
            if (!NsqNames.IsEphemeral(topic) && !NsqNames.IsEphemeral(channel))
            {
                agent._channelWrites.Writer.TryWrite(new ChannelWrite(change, topic, channel));
            }
        }
    }
}
