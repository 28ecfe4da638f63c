using System.Globalization;
using NsqSharp.Chaos.Checking;
using NsqSharp.Chaos.Cluster;
using NsqSharp.Chaos.History;
using NsqSharp.Chaos.Lab;
using NsqSharp.Chaos.Nemesis;
using NsqSharp.Chaos.Reporting;
using NsqSharp.Chaos.Workload;

namespace NsqSharp.Chaos.Scenarios;

/// <summary>
/// One scenario, inside the lab (or on loopback): the cluster starts, a replicated topic is made, the workload runs
/// while the nemesis works through its seeded schedule, every fault is healed and every member restarted, the final
/// drain runs, and the checker judges the history. Returns the checker's exit code (0 iff valid).
/// </summary>
internal sealed class ScenarioRunner(ScenarioRun run, LabDescription lab, NetworkFaults? network, TextWriter stdout, TextWriter log)
{
    private const string Topic = "chaos";
    private static readonly TimeSpan HealthyBound = TimeSpan.FromSeconds(60);

    public async Task<int> RunAsync(CancellationToken stop)
    {
        Directory.CreateDirectory(run.OutDir);
        var historyPath = Path.Combine(run.OutDir, "history.jsonl");
        var schedule = FaultSchedule.Plan(run.Scenario.Faults, run.Time, run.Seed, run.LeaseTtl);
        log.WriteLine($"nsq_chaos: scenario {run.Scenario.Name}, {run.Time.TotalSeconds:F0} s, seed {run.Seed}, {lab.Mode} " +
            $"({schedule.Count} faults planned)");
        var options = new ChaosClusterOptions
        {
            OutDir = run.OutDir,
            NsqdArgs = [$"--cluster-lease-ttl={run.LeaseTtl.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s", .. run.NsqdArgs],
        };
        await using (var cluster = await ChaosCluster.StartAsync(options, lab).ConfigureAwait(false))
        {
            await cluster.CreateTopicAsync(Topic, partitions: 1, replicas: 3, minIsr: 2, stop).ConfigureAwait(false);
            var leader = await cluster.WaitForLeaderAsync(Topic).ConfigureAwait(false);
            log.WriteLine($"nsq_chaos: cluster up ({string.Join(", ", cluster.Members)}); {Topic}/0 leader {leader}");
            var target = new WorkloadTarget(cluster.Nodes.ToDictionary(n => n.Name, n => n.TcpAddress), [.. cluster.Lookupds.Select(l => l.HttpAddress)]);
            using var history = new HistoryWriter(historyPath);
            var workload = new WorkloadRunner(target, new WorkloadOptions { Topic = Topic, ConsumeDuringRun = !run.ConsumeAfter }, history, log);
            await workload.StartAsync(stop).ConfigureAwait(false);
            await RunScheduleAsync(cluster, history, schedule, stop).ConfigureAwait(false);
            await HealEverythingAsync(cluster).ConfigureAwait(false);
            await workload.StopAndDrainAsync().ConfigureAwait(false);
        }

        return Judge(historyPath, schedule.Count);
    }

    private async Task RunScheduleAsync(ChaosCluster cluster, HistoryWriter history, IReadOnlyList<ScheduledFault> schedule, CancellationToken stop)
    {
        var injector = new FaultInjector(cluster, network, Topic, log);
        var started = TimeProvider.System.GetTimestamp();
        foreach (var fault in schedule)
        {
            await DelayUntilAsync(started, fault.At, stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested)
            {
                break;
            }

            // Faults come one at a time on a healthy cluster: one fault's damage is what the checker judges.
            await WaitHealthyAsync(cluster, HealthyBound).ConfigureAwait(false);
            var active = await injector.StartAsync(fault, stop).ConfigureAwait(false);
            if (active is null)
            {
                log.WriteLine($"nemesis: {Elapsed(started)} {fault.Kind.Slug()} does not apply now; skipped");
                continue;
            }

            history.NemesisStart(active.Description);
            log.WriteLine($"nemesis: {Elapsed(started)} start {active.Description} for {fault.Hold.TotalSeconds:F0} s");
            try
            {
                await Task.Delay(fault.Hold, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await active.StopAsync().ConfigureAwait(false);
            history.NemesisStop(active.Description);
            log.WriteLine($"nemesis: {Elapsed(started)} stop {active.Description}");
        }

        await DelayUntilAsync(started, run.Time, stop).ConfigureAwait(false);
    }

    /// <summary>After the schedule: no rule, no shape, no stopped or dead member left, then a healthy ISR (bounded).</summary>
    private async Task HealEverythingAsync(ChaosCluster cluster)
    {
        if (network is not null)
        {
            await network.HealAsync().ConfigureAwait(false);
        }

        foreach (var member in cluster.Members)
        {
            if (member.IsPaused)
            {
                member.Resume();
            }

            if (member.HasExited)
            {
                log.WriteLine($"nsq_chaos: restarting {member.Name} for the drain");
                await member.RestartAsync().ConfigureAwait(false);
            }
        }

        await WaitHealthyAsync(cluster, HealthyBound).ConfigureAwait(false);
    }

    /// <summary>Waits until the partition has a leader and all its replicas in the ISR; logs and goes on after the bound
    /// (a cluster that does not heal is for the checker and the report to show, not a reason to stop).</summary>
    private async Task WaitHealthyAsync(ChaosCluster cluster, TimeSpan bound)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)(bound.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (TimeProvider.System.GetTimestamp() < deadline)
        {
            try
            {
                var partitions = await cluster.PartitionsAsync(Topic).ConfigureAwait(false);
                if (partitions is [{ Leader: not null } p] && p.Isr.Count == p.Replicas.Count
                    && cluster.Members.All(m => !m.HasExited && !m.IsPaused))
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
            }

            await Task.Delay(250).ConfigureAwait(false);
        }

        log.WriteLine($"nsq_chaos: the cluster did not become healthy within {bound.TotalSeconds:F0} s; going on");
    }

    private int Judge(string historyPath, int faultsPlanned)
    {
        HistoryCheckOutcome outcome;
        try
        {
            outcome = HistoryCheck.Run(HistoryReader.ReadFile(historyPath));
        }
        catch (HistoryFormatException e)
        {
            stdout.WriteLine(CheckResultJson.ErrorLine(e.Message));
            return CheckCommand.Unreadable;
        }

        ReportFiles.Write(run.OutDir, outcome.Result, outcome.Timeline, Path.GetFileName(historyPath));
        PrependRunSection(Path.Combine(run.OutDir, ReportFiles.MarkdownName));
        var result = outcome.Result;
        foreach (var line in CheckSummary.Lines(result))
        {
            stdout.WriteLine(line);
        }

        stdout.WriteLine($"{run.Scenario.Name}: report in {run.OutDir}");
        stdout.WriteLine(CheckResultJson.Line(result, json =>
        {
            json.WriteNumber("faults_planned", faultsPlanned);
            json.WriteString("scenario", run.Scenario.Name);
            json.WriteNumber("seed", run.Seed);
            json.WriteString("mode", lab.Mode.ToString().ToLowerInvariant());
        }));
        return result.Valid ? CheckCommand.Valid : CheckCommand.Invalid;
    }

    private void PrependRunSection(string reportPath)
    {
        var network = lab.Mode == LabMode.Namespaces
            ? $"each member in its own network namespace ({lab.Subnet})" + (lab.NetemAvailable ? "" : $"; netem unavailable ({lab.NetemReason}): no fixed delays, slow links by tbf rate limits")
            : $"loopback only ({lab.LoopbackReason}): kill and pause faults only";
        var header = $"""
            # Chaos run: {run.Scenario.Name}

            - Scenario: `{run.Scenario.Name}` ({run.Scenario.Description}), {run.Time.TotalSeconds:F0} s, seed {run.Seed}
            - Rerun: `chaos-tests/run.sh --scenario={run.Scenario.Name} --time={run.Time.TotalSeconds:F0}s --seed={run.Seed}`{(run.NsqdArgs.Count > 0 ? $" (nsqd flags: {string.Join(' ', run.NsqdArgs)})" : "")}{(run.ConsumeAfter ? " (consumers from the drain on: --consume-after)" : "")}
            - Cluster: etcd, 2 nsqlookupd, 3 nsqd; topic `{Topic}` with 1 partition, RF=3, min_isr=2, lease {run.LeaseTtl.TotalSeconds:F0} s
            - Network: {network}


            """;
        File.WriteAllText(reportPath, header + File.ReadAllText(reportPath));
    }

    private static async Task DelayUntilAsync(long started, TimeSpan at, CancellationToken stop)
    {
        var wait = at - TimeProvider.System.GetElapsedTime(started);
        if (wait > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(wait, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static string Elapsed(long started) =>
        string.Create(CultureInfo.InvariantCulture, $"{TimeProvider.System.GetElapsedTime(started).TotalSeconds:F1}s");
}
