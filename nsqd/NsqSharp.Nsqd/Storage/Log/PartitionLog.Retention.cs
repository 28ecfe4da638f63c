using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Storage;

// Retention: RetentionPolicy decides (a pure function); this applies the decision to the segment list.
public sealed partial class PartitionLog
{
    private const int StackSegmentInfos = 64;

    /// <summary>
    /// Deletes whole closed segments, oldest first, per the retention options (<see cref="RetentionPolicy"/>). Never
    /// deletes a segment holding offsets &gt;= <paramref name="minAckFloor"/> unless
    /// <see cref="PartitionLogOptions.HardLimitBytes"/> is exceeded. Returns the number of segments deleted.
    /// </summary>
    public int EnforceRetention(long minAckFloor, DateTimeOffset now)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!RetentionPolicy.Enabled(_options))
        {
            return 0;
        }

        RetentionPlan plan;
        LogSegment[]? doomed = null;
        lock (_segmentsLock)
        {
            LogSegment[] segments = _segments;
            Span<SegmentInfo> infos = segments.Length <= StackSegmentInfos
                ? stackalloc SegmentInfo[segments.Length]
                : new SegmentInfo[segments.Length];
            for (int i = 0; i < segments.Length; i++)
            {
                LogSegment s = segments[i];
                long end = i + 1 < segments.Length ? segments[i + 1].BaseOffset : s.NextOffset;
                infos[i] = new SegmentInfo(s.BaseOffset, end, s.Size, s.MaxTimestampNs);
            }

            plan = RetentionPolicy.Plan(infos, minAckFloor, _options, now);
            if (plan.DeleteCount > 0)
            {
                doomed = segments[..plan.DeleteCount];
                Volatile.Write(ref _segments, segments[plan.DeleteCount..]);
            }
        }

        foreach (HardLimitDeletion forced in plan.HardLimitDeletions)
        {
            Interlocked.Add(ref _hardLimitDeleted, forced.LostMessages);
            _logger.LogWarning(
                "partition log {Directory}: size {Size} exceeds the hard limit {Limit}; deleting segment {Base} with {Lost} unconsumed messages",
                _directory, forced.LogBytes, _options.HardLimitBytes, forced.BaseOffset, forced.LostMessages);
        }

        if (doomed is not null)
        {
            foreach (LogSegment segment in doomed)
            {
                segment.Delete();
                _logger.LogInformation("partition log {Directory}: retention deleted segment {Base}", _directory, segment.BaseOffset);
            }

            // In memory; written with the next epoch change, truncation or close (stale entries below the start are harmless).
            _epochs.TruncateFromStart(StartOffset);
        }

        if (plan.RollActive && Interlocked.Exchange(ref _rollRequested, 1) == 0)
        {
            Signal();
        }

        return plan.DeleteCount;
    }
}
