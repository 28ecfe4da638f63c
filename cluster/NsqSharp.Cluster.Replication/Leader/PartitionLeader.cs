using NsqSharp.Cluster.Replication.Protocol;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Cluster.Replication.Leader;

/// <summary>
/// The leader side of one partition in one leader epoch (Kafka's Partition on the leader). Tracks each follower's
/// log end from its fetches, keeps the high watermark at the smallest log end of the in-sync replicas, and decides
/// when the ISR should shrink (a member lagging longer than <see cref="ReplicationSettings.ReplicaLagTime"/>) or grow
/// (a replica that reached the high watermark). ISR changes take effect only once committed to the partition state
/// (etcd, compare-and-swap: <see cref="IsrCommitted"/>), so the high watermark never counts on an ISR that a newer
/// leader could contradict. While the committed ISR has fewer than min ISR members the high watermark does not
/// move: publishes wait and then fail (E_NOT_ENOUGH_REPLICAS) rather than be acknowledged on too few copies.
/// </summary>
public sealed class PartitionLeader : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<string, FollowerProgress> _followers = new(StringComparer.Ordinal);
    private readonly ReplicationSettings _settings;
    private readonly TimeProvider _time;
    private readonly Action _onLogEnd;
    private IReadOnlyList<string> _isr;

    public PartitionLeader(string topic, PartitionLog log, string selfId, long epoch, IReadOnlyList<string> replicas,
        IReadOnlyList<string> isr, int minIsr, ReplicationSettings settings, TimeProvider time)
    {
        if (!replicas.Contains(selfId) || !isr.Contains(selfId))
        {
            throw new ArgumentException($"leader {selfId} must be among the replicas and the ISR of {topic}/{log.Partition}");
        }

        Topic = topic;
        Log = log;
        SelfId = selfId;
        Epoch = epoch;
        Replicas = replicas;
        MinIsr = minIsr;
        _isr = isr;
        _settings = settings;
        _time = time;
        var now = time.GetTimestamp();
        foreach (var replica in replicas.Where(r => r != selfId))
        {
            _followers[replica] = new FollowerProgress(replica, now);
        }

        log.LeaderEpoch = epoch; // throws if the log already holds a newer epoch: this state is stale
        _onLogEnd = UpdateHighWatermark;
        log.AddDataListener(LogBound.LogEnd, _onLogEnd);
        UpdateHighWatermark();
    }

    public string Topic { get; }

    public PartitionLog Log { get; }

    public int Partition => Log.Partition;

    public string SelfId { get; }

    public long Epoch { get; }

    public IReadOnlyList<string> Replicas { get; }

    public int MinIsr { get; }

    /// <summary>The committed ISR (leader included).</summary>
    public IReadOnlyList<string> Isr => Volatile.Read(ref _isr);

    /// <summary>True while publishes can be acknowledged: the committed ISR has at least min ISR members.</summary>
    public bool HasEnoughReplicas => Isr.Count >= MinIsr;

    public IReadOnlyList<FollowerProgress> Followers
    {
        get
        {
            lock (_lock)
            {
                return [.. _followers.Values];
            }
        }
    }

    /// <summary>Whether a fetch from <paramref name="replicaId"/> in <paramref name="followerEpoch"/> may be served.</summary>
    public ReplicationError Check(string replicaId, long followerEpoch)
    {
        if (!_followers.ContainsKey(replicaId))
        {
            return ReplicationError.NotReplica;
        }

        return followerEpoch < Epoch ? ReplicationError.FencedLeaderEpoch
            : followerEpoch > Epoch ? ReplicationError.UnknownLeaderEpoch
            : ReplicationError.None;
    }

    /// <summary>A follower fetched from <paramref name="fetchOffset"/>: everything below it is on its disk.</summary>
    public void RecordFetch(string replicaId, long fetchOffset)
    {
        lock (_lock)
        {
            if (!_followers.TryGetValue(replicaId, out var follower))
            {
                return;
            }

            var now = _time.GetTimestamp();
            follower.LastFetchAt = now;
            follower.LogEnd = fetchOffset;
            if (fetchOffset >= Log.LogEnd)
            {
                follower.LastCaughtUpAt = now;
            }
        }

        UpdateHighWatermark();
    }

    /// <summary>
    /// The ISR this leader wants now, or null for no change: members lagging longer than the lag time out, replicas
    /// that reached the high watermark in. The caller commits it (compare-and-swap on the partition state, fenced by
    /// this leader's epoch) and then calls <see cref="IsrCommitted"/>. A replica whose node is not in
    /// <paramref name="liveNodes"/> (its registration lease expired) is out at once, without waiting for the lag time:
    /// a dead follower must not hold acknowledgements back longer than its lease.
    /// </summary>
    public IReadOnlyList<string>? ProposeIsr(IReadOnlySet<string>? liveNodes = null)
    {
        lock (_lock)
        {
            var isr = Isr;
            long hw = Log.HighWatermark;
            var next = new List<string>(Replicas.Count);
            foreach (var replica in Replicas)
            {
                if (replica == SelfId)
                {
                    next.Add(replica);
                    continue;
                }

                var follower = _followers[replica];
                bool lagging = _time.GetElapsedTime(follower.LastCaughtUpAt) > _settings.ReplicaLagTime
                    || (liveNodes is not null && !liveNodes.Contains(replica));
                bool member = isr.Contains(replica);
                if (member && !lagging)
                {
                    next.Add(replica);
                }
                else if (!member && follower.LogEnd >= hw && follower.LogEnd >= 0 && !lagging)
                {
                    next.Add(replica);
                }
            }

            return next.Count == isr.Count && next.All(isr.Contains) ? null : next;
        }
    }

    /// <summary>The partition state now holds <paramref name="isr"/>: use it for the high watermark.</summary>
    public void IsrCommitted(IReadOnlyList<string> isr)
    {
        Volatile.Write(ref _isr, isr);
        UpdateHighWatermark();
    }

    /// <summary>HW = the smallest log end among the committed ISR (the leader's own included), when the ISR is big enough.</summary>
    public void UpdateHighWatermark()
    {
        long target;
        lock (_lock)
        {
            var isr = Isr;
            target = Log.LogEnd;
            if (!_settings.UnsafeAckOnLeaderOnly) // the deliberate bug (see ReplicationSettings) skips both checks
            {
                if (isr.Count < MinIsr)
                {
                    return;
                }

                foreach (var member in isr)
                {
                    if (member != SelfId && _followers.TryGetValue(member, out var follower))
                    {
                        target = Math.Min(target, follower.LogEnd);
                    }
                }
            }
        }

        if (target > Log.HighWatermark)
        {
            Log.AdvanceHighWatermark(target);
        }
    }

    public void Dispose()
    {
        Log.RemoveDataListener(LogBound.LogEnd, _onLogEnd);
    }
}
