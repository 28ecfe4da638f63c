using NsqSharp.Nsqd.Storage;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Retention's segment selection as a pure function: segment descriptors in, a plan out, no files.</summary>
public sealed class RetentionPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static long Ns(DateTimeOffset t) => t.ToUnixTimeMilliseconds() * 1_000_000;

    /// <summary>Segments of 100 offsets and 1,000 bytes each, the i-th newest record i hours after Now - 10 h; the
    /// last one is the active segment.</summary>
    private static SegmentInfo[] Segments(int count, long activeSize = 1000)
    {
        var segments = new SegmentInfo[count];
        for (int i = 0; i < count; i++)
        {
            segments[i] = new SegmentInfo(i * 100, (i + 1) * 100, i == count - 1 ? activeSize : 1000, Ns(Now.AddHours(-10 + i)));
        }

        return segments;
    }

    [Fact]
    public void NoLimits_DeletesNothing()
    {
        RetentionPlan plan = RetentionPolicy.Plan(Segments(5), long.MaxValue, new PartitionLogOptions(), Now);
        Assert.Equal(0, plan.DeleteCount);
        Assert.False(plan.RollActive);
        Assert.Empty(plan.HardLimitDeletions);
    }

    [Fact]
    public void Age_DeletesOldClosedSegmentsOldestFirst()
    {
        var options = new PartitionLogOptions { RetentionAge = TimeSpan.FromHours(7.5) }; // cutoff: Now - 7.5 h
        RetentionPlan plan = RetentionPolicy.Plan(Segments(5), long.MaxValue, options, Now);
        Assert.Equal(3, plan.DeleteCount); // newest records at -10, -9, -8 h are older than the cutoff; -7 h is not
        Assert.False(plan.RollActive);
    }

    [Fact]
    public void Age_StopsAtTheFirstYoungSegment_EvenIfLaterOnesAreOld()
    {
        SegmentInfo[] segments = Segments(4);
        segments[0] = segments[0] with { MaxTimestampNs = Ns(Now) }; // clock went back: the oldest segment looks new
        RetentionPlan plan = RetentionPolicy.Plan(segments, long.MaxValue, new PartitionLogOptions { RetentionAge = TimeSpan.FromHours(1) }, Now);
        Assert.Equal(0, plan.DeleteCount);
    }

    [Fact]
    public void Size_DeletesWhileTheLogIsTooBig()
    {
        var options = new PartitionLogOptions { RetentionBytes = 2500 };
        RetentionPlan plan = RetentionPolicy.Plan(Segments(5), long.MaxValue, options, Now); // 5,000 bytes
        Assert.Equal(3, plan.DeleteCount); // 5,000 → 4,000 → 3,000 → 2,000
    }

    [Fact]
    public void SoftLimits_NeverPassTheAckFloor()
    {
        var options = new PartitionLogOptions { RetentionBytes = 1, RetentionAge = TimeSpan.FromSeconds(1) };
        Assert.Equal(0, RetentionPolicy.Plan(Segments(5), 99, options, Now).DeleteCount);
        Assert.Equal(1, RetentionPolicy.Plan(Segments(5), 100, options, Now).DeleteCount); // segment 0 ends at 100
        Assert.Equal(2, RetentionPolicy.Plan(Segments(5), 250, options, Now).DeleteCount);
        RetentionPlan all = RetentionPolicy.Plan(Segments(5), long.MaxValue, options, Now);
        Assert.Equal(4, all.DeleteCount); // never the active segment...
        Assert.True(all.RollActive);      // ...which is rolled instead, so a later pass can delete it
        Assert.Empty(all.HardLimitDeletions);
    }

    [Fact]
    public void ActiveSegment_RolledOnlyWhenEligibleAndNotEmpty()
    {
        var options = new PartitionLogOptions { RetentionAge = TimeSpan.FromMinutes(1) };
        Assert.True(RetentionPolicy.Plan(Segments(1), long.MaxValue, options, Now).RollActive);
        Assert.False(RetentionPolicy.Plan(Segments(1, activeSize: 0), long.MaxValue, options, Now).RollActive);
        Assert.False(RetentionPolicy.Plan(Segments(1), 50, options, Now).RollActive); // unconsumed
        RetentionPlan both = RetentionPolicy.Plan(Segments(2), long.MaxValue, options, Now);
        Assert.Equal(1, both.DeleteCount); // the closed one goes, then the active one is left and rolled
        Assert.True(both.RollActive);
        RetentionPlan blocked = RetentionPolicy.Plan(Segments(2), 150, options, Now);
        Assert.Equal(1, blocked.DeleteCount);
        Assert.False(blocked.RollActive); // the active segment holds unconsumed offsets
    }

    [Fact]
    public void HardLimit_DeletesUnconsumedAndReportsTheLoss()
    {
        var options = new PartitionLogOptions { RetentionBytes = 1, HardLimitBytes = 2500 };
        RetentionPlan plan = RetentionPolicy.Plan(Segments(5), 150, options, Now);
        Assert.Equal(3, plan.DeleteCount);
        Assert.False(plan.RollActive);

        // Segment 0 is consumed (soft), segment 1 half (offsets 150..199 lost), segment 2 entirely (100 lost).
        Assert.Equal([new HardLimitDeletion(100, 50, 4000), new HardLimitDeletion(200, 100, 3000)], plan.HardLimitDeletions);
    }

    [Fact]
    public void HardLimit_RollsTheActiveSegmentWhenItAloneIsTooBig()
    {
        var options = new PartitionLogOptions { HardLimitBytes = 500 };
        RetentionPlan plan = RetentionPolicy.Plan(Segments(1), 0, options, Now);
        Assert.Equal(0, plan.DeleteCount);
        Assert.True(plan.RollActive);
    }
}
