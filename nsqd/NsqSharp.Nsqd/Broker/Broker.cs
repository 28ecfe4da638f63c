using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Metadata;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Broker;

/// <summary>
/// Owns the topics of one nsqd: creates and restores them from the data path, persists the
/// topic/channel list, and runs the housekeeping loops (in-flight timeouts and deferred due
/// times every 100 ms, cursor checkpoints every second, retention every 30 s).
/// Layout: data/nsqd.json, data/topics/&lt;topic&gt;/&lt;partition&gt;/*.log, data/topics/&lt;topic&gt;/channels/*.cursor,
/// data/ephemeral/&lt;topic&gt; (wiped at start).
/// </summary>
public sealed class Broker : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _deletions = new(StringComparer.Ordinal);
    private readonly object _topicGate = new();
    private readonly MetadataWriter _metadata;
    private readonly CancellationTokenSource _stop = new();
    private Task? _housekeeping;
    private bool _loading;

    public Broker(NsqdOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("nsqd.broker");
        DataPath = Path.GetFullPath(options.DataPath);
        _metadata = new MetadataWriter(MetadataPath, BuildMetadata, _logger);
    }

    public NsqdOptions Options { get; }

    public string DataPath { get; }

    /// <summary>Receives topic/channel create/delete events and answers known-channel queries (lookupd registrar, cluster agent); null when alone.</summary>
    public IControlPlane? ControlPlane { get; set; }

    /// <summary>Cluster mode: which local partitions lead (set before <see cref="Start"/>); null standalone.</summary>
    public IPartitionRoles? Roles { get; set; }

    /// <summary>Cluster mode: the agent changed a local partition's role (wakes its cursors, drops subscribers it lost).</summary>
    public void OnPartitionRoleChanged(string topic, int partition)
    {
        if (TryGetTopic(topic, out var t))
        {
            t.OnPartitionRoleChanged(partition);
        }
    }

    /// <summary>Null when healthy; otherwise why (e.g. a failed disk write), reported by /ping and /stats.</summary>
    public string? Health
    {
        get
        {
            foreach (var topic in _topics.Values)
            {
                foreach (var log in topic.Partitions)
                {
                    if (log.Health != null)
                    {
                        return log.Health;
                    }
                }
            }

            return null;
        }
    }

    public bool IsExiting => _stop.IsCancellationRequested;

    public ICollection<Topic> Topics => _topics.Values;

    private string MetadataPath => Path.Combine(DataPath, "nsqd.json");

    /// <summary>Restores topics, channels and cursors from the data path and starts housekeeping.</summary>
    public void Start()
    {
        NativeFile.CreateDirectory(DataPath);
        var ephemeralRoot = Path.Combine(DataPath, "ephemeral");
        if (Directory.Exists(ephemeralRoot))
        {
            Directory.Delete(ephemeralRoot, recursive: true);
        }

        var metadata = NodeMetadata.Load(MetadataPath);
        if (metadata != null)
        {
            _loading = true;
            try
            {
                foreach (var t in metadata.Topics)
                {
                    if (!NsqNames.IsValidTopicName(t.Name) || NsqNames.IsEphemeral(t.Name))
                    {
                        _logger.LogWarning("skipping topic {Topic} from metadata: invalid name", t.Name);
                        continue;
                    }

                    var topic = OpenTopic(t.Name, t.PartitionIds ?? DensePartitions(Math.Max(1, t.Partitions)));
                    topic.SetPausedQuietly(t.Paused);
                    if (t.EmptiedBelow != null)
                    {
                        Array.Copy(t.EmptiedBelow, topic.EmptiedBelow, Math.Min(t.EmptiedBelow.Length, topic.EmptiedBelow.Length));
                    }
                    foreach (var c in t.Channels)
                    {
                        if (NsqNames.IsValidChannelName(c.Name) && !NsqNames.IsEphemeral(c.Name))
                        {
                            topic.RestoreChannel(c.Name, c.Paused);
                        }
                    }

                    _topics[t.Name] = topic;
                }
            }
            finally
            {
                _loading = false;
            }

        }

        RestoreUnlistedTopics();
        if (_topics.Count > 0)
        {
            _logger.LogInformation("restored {Count} topics from {Path}", _topics.Count, DataPath);
        }

        _metadata.Start();
        _housekeeping = Task.Run(RunHousekeepingAsync);
    }

    /// <summary>
    /// The directory is the truth about what exists: a topic created (and published to) or a channel created just
    /// before a crash may be missing from nsqd.json, which is written in the background. Restore such topics from
    /// data/topics/, and such channels from their cursor files.
    /// </summary>
    private void RestoreUnlistedTopics()
    {
        var root = Path.Combine(DataPath, "topics");
        if (!Directory.Exists(root))
        {
            return;
        }

        _loading = true;
        try
        {
            foreach (var directory in Directory.EnumerateDirectories(root))
            {
                var name = Topic.UnescapeFileName(Path.GetFileName(directory));
                if (!NsqNames.IsValidTopicName(name) || NsqNames.IsEphemeral(name))
                {
                    continue;
                }

                if (!_topics.TryGetValue(name, out var topic))
                {
                    var ids = new List<int>();
                    foreach (var sub in Directory.EnumerateDirectories(directory))
                    {
                        if (int.TryParse(Path.GetFileName(sub), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
                        {
                            ids.Add(id);
                        }
                    }

                    topic = OpenTopic(name, ids.Count == 0 ? [0] : [.. ids]);
                    _topics[name] = topic;
                    _logger.LogWarning("TOPIC({Topic}): restored from its directory (missing from nsqd.json)", name);
                }

                var channels = Path.Combine(directory, "channels");
                if (!Directory.Exists(channels))
                {
                    continue;
                }

                foreach (var file in Directory.EnumerateFiles(channels, "*.cursor"))
                {
                    var channel = Topic.UnescapeFileName(Path.GetFileNameWithoutExtension(file));
                    if (NsqNames.IsValidChannelName(channel) && !NsqNames.IsEphemeral(channel) && !topic.TryGetChannel(channel, out _))
                    {
                        topic.RestoreChannel(channel, paused: false);
                        _logger.LogWarning("TOPIC({Topic}): channel({Channel}) restored from its cursor (missing from nsqd.json)", name, channel);
                    }
                }
            }
        }
        finally
        {
            _loading = false;
        }
    }

    public bool TryGetTopic(string name, out Topic topic) => _topics.TryGetValue(name, out topic!);

    /// <summary>
    /// Gets or creates a topic (PUB and SUB create topics, as upstream). If a topic of that name is
    /// being deleted, waits (briefly, bounded) for its files to be gone before creating it afresh.
    /// </summary>
    public Topic GetOrCreateTopic(string name) => GetOrCreateTopic(name, Options.TopicPartitions);

    /// <summary>
    /// Gets or creates a topic with partitions 0..partitions-1 (an existing topic is returned as it is, whatever its
    /// partition count: the caller compares). PUB and SUB create topics with --topic-partitions (1 by default).
    /// A re-create racing a delete of the same name waits for the delete (its logs share the directory).
    /// In-process callers only: request paths use <see cref="GetOrCreateTopicAsync(string, int, CancellationToken)"/>, which waits without blocking.
    /// </summary>
    public Topic GetOrCreateTopic(string name, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(partitions, NsqdOptions.MaxPartitions);
        var ids = DensePartitions(partitions);
        while (true)
        {
            var topic = TryGetOrCreateTopic(name, ids, out var deletion);
            if (topic != null)
            {
                return topic;
            }

            if (!deletion!.Wait(DeletionWait))
            {
                throw new IOException($"topic {name} is still being deleted");
            }
        }
    }

    /// <summary>As <see cref="GetOrCreateTopic(string, int)"/>; completes synchronously unless a delete of the name is under way.</summary>
    public ValueTask<Topic> GetOrCreateTopicAsync(string name, int partitions, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(partitions, NsqdOptions.MaxPartitions);
        return GetOrCreateTopicAsync(name, DensePartitions(partitions), ct);
    }

    /// <summary>
    /// Gets or creates a topic holding exactly the given partition ids (cluster mode: the partitions the cluster
    /// state assigns to this node, sparse in general). An existing topic is returned as it is: the caller compares.
    /// </summary>
    public ValueTask<Topic> GetOrCreateTopicAsync(string name, int[] partitionIds, CancellationToken ct = default)
    {
        if (partitionIds.Length == 0 || partitionIds.Any(id => id < 0 || id >= NsqdOptions.MaxPartitions) || partitionIds.Distinct().Count() != partitionIds.Length)
        {
            throw new ArgumentException($"invalid partition ids [{string.Join(",", partitionIds)}]", nameof(partitionIds));
        }

        var ids = partitionIds.Order().ToArray();
        var topic = TryGetOrCreateTopic(name, ids, out var deletion);
        return topic != null ? new ValueTask<Topic>(topic) : AwaitDeletionThenCreateAsync(name, ids, deletion!, ct);
    }

    private async ValueTask<Topic> AwaitDeletionThenCreateAsync(string name, int[] partitions, Task deletion, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                await deletion.WaitAsync(DeletionWait, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new IOException($"topic {name} is still being deleted");
            }

            var topic = TryGetOrCreateTopic(name, partitions, out var next);
            if (topic != null)
            {
                return topic;
            }

            deletion = next!;
        }
    }

    private static readonly TimeSpan DeletionWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The topic, created if need be; or null with the delete of the same name that must finish first. The check for
    /// a delete is made under the same lock the delete takes, so a create can never open the logs of a topic whose
    /// files are still being closed.
    /// </summary>
    private Topic? TryGetOrCreateTopic(string name, int[] partitions, out Task? deletion)
    {
        deletion = null;
        if (_topics.TryGetValue(name, out var topic))
        {
            return topic;
        }

        lock (_topicGate)
        {
            if (_topics.TryGetValue(name, out topic))
            {
                return topic;
            }

            if (_deletions.TryGetValue(name, out deletion) && !deletion.IsCompleted)
            {
                return null;
            }

            deletion = null;
            ObjectDisposedException.ThrowIf(IsExiting, this);
            topic = OpenTopic(name, partitions);
            _topics[name] = topic;
        }

        _logger.LogInformation("TOPIC({Topic}): created", name);
        SaveMetadata();
        ControlPlane?.TopicCreated(name);
        if (ControlPlane != null && !topic.IsEphemeral)
        {
            _ = PrecreateKnownChannelsAsync(topic);
        }

        return topic;
    }

    /// <summary>Channels lookupd already knows for a new topic are created at once, so their messages are kept.</summary>
    private async Task PrecreateKnownChannelsAsync(Topic topic)
    {
        try
        {
            var names = await ControlPlane!.GetKnownChannelsAsync(topic.Name, _stop.Token).ConfigureAwait(false);
            foreach (var name in names)
            {
                if (NsqNames.IsValidChannelName(name) && !NsqNames.IsEphemeral(name) && topic.TryGetOrCreateChannel(name, StartPosition.Oldest) == null)
                {
                    return; // the topic is being deleted
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "TOPIC({Topic}): could not pre-create channels from lookupd", topic.Name);
        }
    }

    // One open-file budget (--max-open-segments) for every partition log of this node, created with the first topic.
    private SegmentHandleCache? _segmentHandles;

    /// <summary>Segment files this node holds open now (all partitions share one budget).</summary>
    public int OpenSegmentFiles => _segmentHandles?.OpenHandles ?? 0;

    private static bool IsDense(int[] ids)
    {
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] != i)
            {
                return false;
            }
        }

        return true;
    }

    private static int[] DensePartitions(int count)
    {
        var ids = new int[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = i;
        }

        return ids;
    }

    /// <summary>Opens a topic holding the given partition ids (sorted here; sparse in a cluster).</summary>
    private Topic OpenTopic(string name, int[] partitionIds)
    {
        partitionIds = [.. partitionIds.Distinct().Order()];
        var ephemeral = NsqNames.IsEphemeral(name);
        var directory = ephemeral
            ? Path.Combine(DataPath, "ephemeral", Topic.EscapeFileName(name))
            : Path.Combine(DataPath, "topics", Topic.EscapeFileName(name));
        if (ephemeral)
        {
            Directory.CreateDirectory(Path.Combine(directory, "channels"));
        }
        else
        {
            // Durably (topics/, the topic's directory, channels/): the topic's messages are acknowledged only once
            // fsynced, and an fsynced file is lost all the same if a directory above it is.
            NativeFile.CreateDirectory(Path.Combine(directory, "channels"));
        }

        var logs = new PartitionLog[partitionIds.Length];
        var logger = _loggerFactory.CreateLogger("nsqd.storage");
        var handles = LazyInitializer.EnsureInitialized(ref _segmentHandles, () => new SegmentHandleCache(Options.MaxOpenSegments));
        for (var i = 0; i < partitionIds.Length; i++)
        {
            var p = partitionIds[i];
            logs[i] = PartitionLog.Open(Path.Combine(directory, p.ToString(System.Globalization.CultureInfo.InvariantCulture)), p,
                Options.ToLogOptions(ephemeral, handles), logger);
        }

        return new Topic(this, name, directory, logs, _loggerFactory.CreateLogger("nsqd.topic"));
    }

    public async Task<bool> DeleteTopicAsync(string name)
    {
        Topic? topic;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_topicGate)
        {
            if (!_topics.TryRemove(name, out topic))
            {
                return false;
            }

            // Until the files are gone, a re-create of the same name waits (its logs share the directory).
            _deletions[name] = done.Task;
        }

        try
        {
            topic.MarkDeleting();
            await topic.StopAsync(delete: true).ConfigureAwait(false);
            try
            {
                // The parent is fsynced too: a topic directory still there after a power loss would be restored.
                NativeFile.DeleteDirectory(topic.Directory);
            }
            catch (IOException e)
            {
                _logger.LogWarning(e, "TOPIC({Topic}): could not remove {Dir}", name, topic.Directory);
            }
        }
        finally
        {
            _deletions.TryRemove(new KeyValuePair<string, Task>(name, done.Task)); // only our own entry
            done.TrySetResult();
            topic.MarkDeleted();
        }

        SaveMetadata();
        ControlPlane?.TopicDeleted(name);
        _logger.LogInformation("TOPIC({Topic}): deleted", name);
        return true;
    }

    internal void OnChannelCreated(Topic topic, Channel channel)
    {
        _logger.LogInformation("TOPIC({Topic}): new channel({Channel})", topic.Name, channel.Name);
        SaveMetadata();
        ControlPlane?.ChannelCreated(topic.Name, channel.Name);
    }

    internal void OnChannelDeleted(Topic topic, Channel channel)
    {
        _logger.LogInformation("TOPIC({Topic}): deleted channel({Channel})", topic.Name, channel.Name);
        SaveMetadata();
        ControlPlane?.ChannelDeleted(topic.Name, channel.Name);
    }

    /// <summary>Everything to (re-)register with a lookupd: each topic alone, and each topic/channel pair.</summary>
    public IReadOnlyList<(string Topic, string? Channel)> RegistrationSnapshot()
    {
        var list = new List<(string, string?)>();
        foreach (var topic in _topics.Values)
        {
            list.Add((topic.Name, null));
            foreach (var channel in topic.Channels)
            {
                list.Add((topic.Name, channel.Name));
            }
        }

        return list;
    }

    /// <summary>Asks for nsqd.json to be rewritten (coalesced, in the background; see MetadataWriter).</summary>
    public void SaveMetadata()
    {
        if (!_loading)
        {
            _metadata.Request();
        }
    }

    /// <summary>Completes once nsqd.json includes every change made before this call (HTTP operator actions await it).</summary>
    public Task SaveMetadataAsync() => _loading ? Task.CompletedTask : _metadata.RequestAndWaitAsync();

    private NodeMetadata BuildMetadata()
    {
        var metadata = new NodeMetadata { Version = ProtocolConstants.CompatibleVersion };
        foreach (var topic in _topics.Values)
        {
            if (topic.IsEphemeral || topic.IsDeleting)
            {
                continue;
            }

            var t = new TopicMetadata
            {
                Name = topic.Name,
                Paused = topic.Paused,
                Partitions = topic.Partitions.Length,
                PartitionIds = IsDense(topic.PartitionIds) ? null : topic.PartitionIds,
                EmptiedBelow = Array.Exists(topic.EmptiedBelow, o => o > 0) ? (long[])topic.EmptiedBelow.Clone() : null,
            };
            foreach (var channel in topic.Channels)
            {
                if (!channel.IsEphemeral)
                {
                    t.Channels.Add(new ChannelMetadata { Name = channel.Name, Paused = channel.Paused });
                }
            }

            t.Channels.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            metadata.Topics.Add(t);
        }

        metadata.Topics.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return metadata;
    }

    /// <summary>
    /// Timers every 100 ms, checkpoints every second, retention every 30 s. A failure in one topic (a disk error in
    /// a checkpoint, say) is logged (at most every 10 s) and the loop goes on: housekeeping never stops for good.
    /// </summary>
    private async Task RunHousekeepingAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), Options.Time);
        var tick = 0L;
        var lastErrorLog = long.MinValue;
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                tick++;
                foreach (var topic in _topics.Values)
                {
                    try
                    {
                        HousekeepTopic(topic, tick);
                    }
                    catch (Exception e)
                    {
                        var now = Options.Time.MonotonicMs();
                        if (now - lastErrorLog >= 10_000)
                        {
                            lastErrorLog = now;
                            _logger.LogError(e, "TOPIC({Topic}): housekeeping failed; retrying on the next tick", topic.Name);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void HousekeepTopic(Topic topic, long tick)
    {
        if (tick % 10 == 0 && Options.Replicated)
        {
            // Before the channels: a cursor restored above the checkpointed HW is clamped down to it (redelivery).
            foreach (var log in topic.Partitions)
            {
                log.CheckpointHighWatermark();
            }
        }

        foreach (var channel in topic.Channels)
        {
            channel.ProcessTimers();
            if (tick % 10 == 0 || channel.CheckpointDue)
            {
                channel.CheckpointIfDirty();
            }
        }

        if (tick % 300 == 0)
        {
            EnforceRetention(topic);
        }
    }

    internal void EnforceRetention(Topic topic)
    {
        foreach (var log in topic.Partitions)
        {
            var deleted = log.EnforceRetention(topic.MinAckFloor(log.Partition), Options.Time.GetUtcNow());
            if (deleted > 0)
            {
                _logger.LogInformation("TOPIC({Topic}): retention removed {Count} segments of partition {Partition}", topic.Name, deleted, log.Partition);
            }
        }
    }

    /// <summary>Graceful stop: checkpoints every channel, fsyncs every log, persists metadata. Loses nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        if (_housekeeping != null)
        {
            await _housekeeping.ConfigureAwait(false);
        }

        await _metadata.StopAsync().ConfigureAwait(false);
        foreach (var topic in _topics.Values)
        {
            await topic.StopAsync(delete: false).ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
