namespace NsqSharp.Nsqd.Storage;

/// <summary>What retention needs to know of one segment: offsets [BaseOffset, EndOffset), bytes, newest record time.</summary>
internal readonly record struct SegmentInfo(long BaseOffset, long EndOffset, long SizeBytes, long MaxTimestampNs);

/// <summary>A segment deleted only because the log exceeded the hard limit: it held <see cref="LostMessages"/>
/// unconsumed messages when the log was <see cref="LogBytes"/> big.</summary>
internal readonly record struct HardLimitDeletion(long BaseOffset, long LostMessages, long LogBytes);

/// <summary>Retention's decision: delete the <see cref="DeleteCount"/> oldest segments; roll the active one (so a later
/// pass can delete it); the deletions that lose unconsumed messages.</summary>
internal readonly record struct RetentionPlan(int DeleteCount, bool RollActive, HardLimitDeletion[] HardLimitDeletions)
{
    public static RetentionPlan Nothing => new(0, false, []);
}

/// <summary>
/// Which segments retention deletes: a pure function of the segments, the ack floor, the options and the time, so it
/// is tested without files. Rules (Storage/FORMAT.md, "Retention"): whole closed segments, oldest first, while the
/// oldest is older than RetentionAge (its newest record) or the log is bigger than RetentionBytes, never a segment
/// holding offsets at or above the slowest channel's ack floor; unless the log is bigger than HardLimitBytes, which
/// deletes regardless (and reports what was unconsumed). The active segment is never deleted; when it is the only one
/// left and is itself eligible, it is rolled.
/// </summary>
internal static class RetentionPolicy
{
    /// <summary>True when any retention limit is set.</summary>
    public static bool Enabled(PartitionLogOptions options) =>
        options.RetentionAge > TimeSpan.Zero || options.RetentionBytes > 0 || options.HardLimitBytes > 0;

    /// <param name="segments">Every segment, oldest first; the last is the active one (its EndOffset is the log's end).</param>
    /// <param name="minAckFloor">Offsets below this are consumed by every channel.</param>
    /// <param name="options">RetentionAge, RetentionBytes and HardLimitBytes are used.</param>
    /// <param name="now">The time the age limit counts back from.</param>
    public static RetentionPlan Plan(ReadOnlySpan<SegmentInfo> segments, long minAckFloor, PartitionLogOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Enabled(options) || segments.IsEmpty)
        {
            return RetentionPlan.Nothing;
        }

        long ageCutoffNs = options.RetentionAge > TimeSpan.Zero
            ? (now - options.RetentionAge).ToUnixTimeMilliseconds() * 1_000_000
            : long.MinValue;
        long total = 0;
        foreach (SegmentInfo s in segments)
        {
            total += s.SizeBytes;
        }

        List<HardLimitDeletion>? forced = null;
        int first = 0;
        for (; first < segments.Length - 1; first++)
        {
            SegmentInfo segment = segments[first];
            bool hard = options.HardLimitBytes > 0 && total > options.HardLimitBytes;
            bool soft = SoftEligible(segment, total, minAckFloor, ageCutoffNs, options);
            if (!hard && !soft)
            {
                break;
            }

            if (!soft)
            {
                long lost = segment.EndOffset - Math.Max(segment.BaseOffset, minAckFloor);
                if (lost > 0)
                {
                    (forced ??= []).Add(new HardLimitDeletion(segment.BaseOffset, lost, total));
                }
            }

            total -= segment.SizeBytes;
        }

        bool roll = false;
        if (first == segments.Length - 1 && segments[^1].SizeBytes > 0)
        {
            roll = (options.HardLimitBytes > 0 && total > options.HardLimitBytes)
                || SoftEligible(segments[^1], total, minAckFloor, ageCutoffNs, options);
        }

        return new RetentionPlan(first, roll, forced?.ToArray() ?? []);
    }

    private static bool SoftEligible(in SegmentInfo segment, long total, long minAckFloor, long ageCutoffNs, PartitionLogOptions options) =>
        segment.EndOffset <= minAckFloor
        && ((options.RetentionAge > TimeSpan.Zero && segment.MaxTimestampNs < ageCutoffNs)
            || (options.RetentionBytes > 0 && total > options.RetentionBytes));
}
