using NsqSharp.Chaos.Nemesis;
using NsqSharp.Chaos.Scenarios;
using Xunit;

namespace NsqSharp.Chaos.Tests.Faults;

public sealed class FaultScheduleTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    [Fact]
    public void TheSameSeed_GivesTheSameSchedule_AndAnotherSeedAnother()
    {
        var kinds = Enum.GetValues<FaultKind>();
        var a = FaultSchedule.Plan(kinds, TimeSpan.FromMinutes(5), 42, Lease);
        var b = FaultSchedule.Plan(kinds, TimeSpan.FromMinutes(5), 42, Lease);
        var c = FaultSchedule.Plan(kinds, TimeSpan.FromMinutes(5), 43, Lease);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Faults_ComeOneAtATime_WithRecoveryBetween_AndFitTheRun()
    {
        var runTime = TimeSpan.FromMinutes(10);
        var plan = FaultSchedule.Plan(Enum.GetValues<FaultKind>(), runTime, 7, Lease);
        Assert.True(plan.Count >= 20);
        for (var i = 1; i < plan.Count; i++)
        {
            var previousEnd = plan[i - 1].At + plan[i - 1].Hold;
            Assert.True(plan[i].At >= previousEnd + TimeSpan.FromSeconds(4), $"fault {i} starts before the previous one recovered");
        }

        Assert.True(plan[^1].At + plan[^1].Hold <= runTime);
    }

    [Fact]
    public void PausesAndCutOffLeaders_OutlastTheLease()
    {
        var plan = FaultSchedule.Plan([FaultKind.PauseLeader, FaultKind.IsolateLeader, FaultKind.OneWayFromLeader], TimeSpan.FromMinutes(10), 1, Lease);
        Assert.All(plan, f => Assert.True(f.Hold > Lease + TimeSpan.FromSeconds(1), $"{f.Kind} held {f.Hold}"));
    }

    [Fact]
    public void AShortRun_StillGetsOneFault()
    {
        var plan = FaultSchedule.Plan([FaultKind.KillLeader], TimeSpan.FromSeconds(5), 1, Lease);
        Assert.Single(plan);
    }

    [Fact]
    public void TheCatalog_HasTheScenariosCiRuns_AndEveryFaultAlone()
    {
        foreach (var name in new[] { "kill-leader", "pause-leader", "partition-leader", "etcd-restart", "mixed" })
        {
            Assert.NotNull(ScenarioCatalog.Find(name));
        }

        var single = ScenarioCatalog.All.Where(s => s.Faults.Count == 1).SelectMany(s => s.Faults).ToHashSet();
        Assert.Equal(Enum.GetValues<FaultKind>().ToHashSet(), single);
        Assert.False(ScenarioCatalog.Find("mixed-process")!.NeedsNetwork);
        Assert.True(ScenarioCatalog.Find("partition-leader")!.NeedsNetwork);
        Assert.Equal(ScenarioCatalog.All.Count, ScenarioCatalog.All.Select(s => s.Name).Distinct().Count());
    }
}
