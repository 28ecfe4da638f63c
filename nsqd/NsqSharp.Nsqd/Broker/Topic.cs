using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// An NSQ topic: P partition logs (P = 1 in standalone mode) and its channels. A topic without
/// channels keeps its messages; its first channel starts at the oldest retained message, later
/// channels at the end (as NSQ).
/// </summary>
public sealed class Topic
{
    private readonly Broker _broker;

    internal Broker Broker => _broker;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Channel> _channels = new(StringComparer.Ordinal);
    private readonly object _channelGate = new();
    private readonly TaskCompletionSource _deleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _messageCount;
    private long _messageBytes;
    private int _nextPartition;
    private bool _everHadChannel;

    internal Topic(Broker broker, string name, string directory, PartitionLog[] partitions, ILogger logger)
    {
        _broker = broker;
        Name = name;
        Directory = directory;
        Partitions = partitions;
        IsEphemeral = NsqNames.IsEphemeral(name);
        _logger = logger;
        EmptiedBelow = new long[partitions.Length];
    }

    /// <summary>
    /// The partition log with this id, if this node holds it. Ids are sparse in general (in a cluster a node may
    /// hold partitions 2 and 5 only): nothing indexes an array by partition id.
    /// </summary>
    public bool TryGetPartition(int partition, out PartitionLog log)
    {
        var index = IndexOf(partition);
        log = index < 0 ? null! : Partitions[index];
        return index >= 0;
    }

    /// <summary>Position of a partition id in <see cref="Partitions"/> (sorted by id), or -1.</summary>
    internal int IndexOf(int partition)
    {
        var partitions = Partitions;
        for (var i = 0; i < partitions.Length; i++)
        {
            if (partitions[i].Partition == partition)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The ids of the partitions this node holds, ascending.</summary>
    public int[] PartitionIds
    {
        get
        {
            var ids = new int[Partitions.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = Partitions[i].Partition;
            }

            return ids;
        }
    }

    public string Name { get; }

    public bool IsEphemeral { get; }

    public bool Paused { get; private set; }

    internal string Directory { get; }

    internal PartitionLog[] Partitions { get; }

    public long MessageCount => Interlocked.Read(ref _messageCount);

    public long MessageBytes => Interlocked.Read(ref _messageBytes);

    public bool IsDeleting { get; private set; }

    public ICollection<Channel> Channels => _channels.Values;

    public bool TryGetChannel(string name, out Channel channel) => _channels.TryGetValue(name, out channel!);

    /// <summary>Appends one message; completes once it is durable (fsynced by default; in cluster mode, on the in-sync
    /// replicas: <see cref="NotLeaderException"/> when no local partition leads, <see cref="NotEnoughReplicasException"/>
    /// when the replicas do not confirm within the bound).</summary>
    public async ValueTask PublishAsync(ReadOnlyMemory<byte> body, long deferMs, CancellationToken ct = default)
    {
        var deliverAt = deferMs > 0 ? _broker.Options.Time.UnixMs() + deferMs : 0;
        var append = PickPartition().AppendAsync(body, deliverAt, ct);
        if (_broker.Roles is null)
        {
            await append.ConfigureAwait(false); // standalone: the hot path stays allocation-free
        }
        else
        {
            await AwaitReplicatedAsync(append.AsTask()).ConfigureAwait(false);
        }

        Interlocked.Increment(ref _messageCount);
        Interlocked.Add(ref _messageBytes, body.Length);
    }

    /// <summary>Appends a batch atomically (MPUB); completes once it is durable (as <see cref="PublishAsync"/>).</summary>
    public async ValueTask PublishBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> bodies, long deferMs, CancellationToken ct = default)
    {
        var deliverAt = deferMs > 0 ? _broker.Options.Time.UnixMs() + deferMs : 0;
        var append = PickPartition().AppendBatchAsync(bodies, deliverAt, ct);
        if (_broker.Roles is null)
        {
            await append.ConfigureAwait(false);
        }
        else
        {
            await AwaitReplicatedAsync(append.AsTask()).ConfigureAwait(false);
        }

        long bytes = 0;
        foreach (var b in bodies)
        {
            bytes += b.Length;
        }

        Interlocked.Add(ref _messageCount, bodies.Count);
        Interlocked.Add(ref _messageBytes, bytes);
    }

    private async Task AwaitReplicatedAsync(Task<AppendResult> append)
    {
        var bound = _broker.Options.ReplicatedAckTimeout;
        try
        {
            await append.WaitAsync(bound, _broker.Options.Time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // It may still be replicated later (a retry can duplicate it: at-least-once), but it is not acknowledged.
            throw new NotEnoughReplicasException(Name, bound);
        }
    }

    private PartitionLog PickPartition()
    {
        var partitions = Partitions;
        var roles = _broker.Roles;
        if (roles is null)
        {
            if (partitions.Length == 1)
            {
                return partitions[0];
            }

            return partitions[(int)((uint)Interlocked.Increment(ref _nextPartition) % (uint)partitions.Length)];
        }

        // Cluster mode: round-robin over the local partitions that lead with a big enough ISR.
        var start = (uint)Interlocked.Increment(ref _nextPartition);
        var leads = false;
        for (var i = 0; i < partitions.Length; i++)
        {
            var log = partitions[(int)((start + (uint)i) % (uint)partitions.Length)];
            if (roles.CanAcceptPublish(Name, log.Partition))
            {
                return log;
            }

            if (roles.IsLeader(Name, log.Partition))
            {
                // Asked again: the role may have been installed between the two questions (at a failover).
                if (roles.CanAcceptPublish(Name, log.Partition))
                {
                    return log;
                }

                leads = true;
            }
        }

        // Leading with too small an ISR is this node's answer to give (Kafka's NOT_ENOUGH_REPLICAS), not a reason to
        // send the publisher elsewhere.
        throw leads ? new NotEnoughReplicasException(Name, "fewer in-sync replicas than min_isr; not written") : new NotLeaderException(Name);
    }

    /// <summary>Whether some partition of this node's copy delivers (leads, in cluster mode). Always true standalone.</summary>
    public bool LeadsAnyPartition => Partitions.Any(p => Delivers(p.Partition));

    /// <summary>Cluster mode: whether this node's copy of a partition may deliver (it leads it). Always true standalone.</summary>
    internal bool Delivers(int partition) => _broker.Roles is not { } roles || roles.IsLeader(Name, partition);

    /// <summary>Cluster mode: a local partition's role changed; channels re-check which of their cursors deliver.</summary>
    internal void OnPartitionRoleChanged(int partition)
    {
        foreach (var channel in _channels.Values)
        {
            channel.OnPartitionRoleChanged(partition);
        }
    }

    /// <summary>Gets or creates a channel. New channels start per NSQ's rule unless a position is given.</summary>
    public Channel GetOrCreateChannel(string name, StartPosition? position = null) =>
        TryGetOrCreateChannel(name, position) ?? throw new ObjectDisposedException($"topic {Name} is being deleted");

    /// <summary>
    /// As <see cref="GetOrCreateChannel"/>, but null once the topic is being deleted (decided under the same lock as
    /// creation, so a new channel can never be created into a delete that would then close its client). A SUB then
    /// awaits <see cref="Deleted"/> and subscribes to the topic afresh.
    /// </summary>
    public Channel? TryGetOrCreateChannel(string name, StartPosition? position = null)
    {
        if (_channels.TryGetValue(name, out var existing))
        {
            return existing;
        }

        Channel channel;
        lock (_channelGate)
        {
            if (_channels.TryGetValue(name, out existing))
            {
                return existing;
            }

            if (IsDeleting)
            {
                return null;
            }

            var start = position ?? (_everHadChannel ? StartPosition.Newest : StartPosition.Oldest);
            channel = CreateChannel(name, start, files: null, restore: null);
            _channels[name] = channel;
            _everHadChannel = true;
        }

        channel.Start();
        _broker.OnChannelCreated(this, channel);
        return channel;
    }

    /// <summary>Recreates a channel from metadata at startup, restoring its checkpointed cursors.</summary>
    internal void RestoreChannel(string name, bool paused)
    {
        var files = new CursorFiles(Path.Combine(Directory, "channels", EscapeFileName(name) + ".cursor"));
        var saved = files.Load();
        if (saved.Error != null)
        {
            // Redeliver from the oldest retained message rather than lose anything.
            _logger.LogError("topic {Topic}: channel {Channel} checkpoint unreadable ({Error}), restarting it from the oldest message", Name, name, saved.Error);
        }
        else if (saved.Ops.TornBytes > 0)
        {
            _logger.LogWarning("topic {Topic}: channel {Channel}: {Bytes} bytes at the end of the cursor ops file were torn or damaged and ignored (their changes are redone)",
                Name, name, saved.Ops.TornBytes);
        }

        files.AcceptLoaded(saved);
        var channel = CreateChannel(name, StartPosition.Oldest, files, saved);
        channel.SetPausedQuietly(paused);
        _channels[name] = channel;
        _everHadChannel = true;
        channel.Start();
    }

    private Channel CreateChannel(string name, StartPosition start, CursorFiles? files, CursorFiles.Loaded? restore)
    {
        var channel = new Channel(this, name, null, _broker.Options, _logger);
        var cursors = new ChannelCursor[Partitions.Length];
        for (var i = 0; i < Partitions.Length; i++)
        {
            var log = Partitions[i];
            cursors[i] = new ChannelCursor(channel, log, ResolvePosition(log, start));
            if (restore?.State != null && restore.State.TryGetPartition(log.Partition, out var saved))
            {
                cursors[i].Restore(saved.NextRead, saved.Pending);
            }
        }

        channel.Cursors = cursors;
        channel.InitializeCheckpoints(files, restore);
        return channel;
    }

    internal long ResolvePosition(PartitionLog log, StartPosition position) => position.Kind switch
    {
        StartPositionKind.Oldest => Math.Min(Math.Max(log.StartOffset, EmptiedBelowOf(log)), log.HighWatermark),
        StartPositionKind.Newest => log.HighWatermark,
        StartPositionKind.Offset => Math.Clamp(position.Value, log.StartOffset, log.HighWatermark),
        StartPositionKind.Timestamp => Math.Min(log.FindOffsetByTime(position.Value, LogBound.HighWatermark), log.HighWatermark),
        _ => log.HighWatermark,
    };

    public async Task<bool> DeleteChannelAsync(string name)
    {
        if (!_channels.TryRemove(name, out var channel))
        {
            return false;
        }

        await channel.StopAsync(delete: true).ConfigureAwait(false);
        _broker.OnChannelDeleted(this, channel);

        // An ephemeral topic goes away with its last channel (as upstream): decided under the creation lock, so a
        // channel created meanwhile keeps the topic alive instead of being deleted with it.
        bool deleteTopic;
        lock (_channelGate)
        {
            deleteTopic = IsEphemeral && _channels.IsEmpty && !IsDeleting;
            IsDeleting |= deleteTopic;
        }

        if (deleteTopic)
        {
            try
            {
                await _broker.DeleteTopicAsync(Name).ConfigureAwait(false);
            }
            finally
            {
                MarkDeleted();
            }
        }

        return true;
    }

    public void Pause() => SetPaused(true);

    public void Unpause() => SetPaused(false);

    internal void SetPausedQuietly(bool paused) => Paused = paused;

    private void SetPaused(bool paused)
    {
        Paused = paused;
        _broker.SaveMetadata();
        if (!paused)
        {
            foreach (var channel in _channels.Values)
            {
                foreach (var cursor in channel.Cursors)
                {
                    cursor.FillSignal.Set();
                }
            }
        }
    }

    /// <summary>
    /// Upstream /topic/empty drops what the topic holds for channels not yet created; channels keep
    /// theirs. Here that is the backlog a first channel would start from: raise the per-partition floor.
    /// </summary>
    public void Empty()
    {
        if (!_channels.IsEmpty)
        {
            return;
        }

        for (var i = 0; i < Partitions.Length; i++)
        {
            EmptiedBelow[i] = Partitions[i].HighWatermark;
        }

        _broker.SaveMetadata();
    }

    /// <summary>
    /// Parallel to <see cref="Partitions"/> (same positions, not partition ids): offsets below this were emptied
    /// (/topic/empty) and are never delivered to new channels.
    /// </summary>
    internal long[] EmptiedBelow { get; }

    private long EmptiedBelowOf(PartitionLog log)
    {
        var index = IndexOf(log.Partition);
        return index < 0 ? 0 : EmptiedBelow[index];
    }

    /// <summary>Messages not yet handed to any channel: the whole retained log when there is no channel.</summary>
    public long Depth
    {
        get
        {
            if (!_channels.IsEmpty)
            {
                return 0;
            }

            long depth = 0;
            foreach (var log in Partitions)
            {
                depth += log.HighWatermark - Math.Max(log.StartOffset, EmptiedBelowOf(log));
            }

            return depth;
        }
    }

    /// <summary>Smallest ack floor of all channels of a partition; the retained start when there is none.</summary>
    internal long MinAckFloor(int partition)
    {
        var floor = long.MaxValue;
        foreach (var channel in _channels.Values)
        {
            floor = Math.Min(floor, channel.AckFloor(partition));
        }

        return floor == long.MaxValue && TryGetPartition(partition, out var log) ? log.StartOffset : floor;
    }

    internal void MarkDeleting()
    {
        lock (_channelGate)
        {
            IsDeleting = true;
        }
    }

    /// <summary>Completes once a delete of this topic has finished (its files are gone).</summary>
    public Task Deleted => _deleted.Task;

    internal void MarkDeleted() => _deleted.TrySetResult();

    internal async Task StopAsync(bool delete)
    {
        foreach (var channel in _channels.Values)
        {
            await channel.StopAsync(delete).ConfigureAwait(false);
        }

        foreach (var log in Partitions)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Names are [.a-zA-Z0-9_-#]; only all-dot names ("." and "..") are unsafe as file names.</summary>
    internal static string EscapeFileName(string name)
    {
        foreach (var c in name)
        {
            if (c != '.')
            {
                return name;
            }
        }

        return name.Replace(".", "%2E", StringComparison.Ordinal);
    }

    /// <summary>The inverse of <see cref="EscapeFileName"/> ('%' never occurs in a valid name).</summary>
    internal static string UnescapeFileName(string fileName) => fileName.Replace("%2E", ".", StringComparison.Ordinal);
}
