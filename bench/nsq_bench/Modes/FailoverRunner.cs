using System.Diagnostics;
using System.Globalization;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Compare;
using NsqSharp.Bench.Load;
using NsqSharp.Bench.Measure;
using NsqSharp.Bench.Report;
using NsqSharp.Bench.Wire;

namespace NsqSharp.Bench.Modes;

/// <summary>
/// The failover mode: publishers on every replica of a one-partition topic, then per kill: wait for a full ISR,
/// SIGKILL the leader, time the first acknowledgement of a publish sent after the kill (and lookupd's new leader),
/// restart the node, wait until it is in the ISR again and its connections publish, settle. Every wait is bounded.
/// </summary>
internal static class FailoverRunner
{
    private static readonly TimeSpan FirstAckBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RestartBound = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DrainBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    public static async Task<BenchResult> RunAsync(FailoverPlan plan)
    {
        var result = new BenchResult
        {
            Mode = "failover",
            Label = plan.Label,
            Target = string.Join(",", plan.Lookupd.Addresses),
            Size = plan.Size,
            BatchSize = 1,
            Topics = 1,
        };
        var summary = new FailoverSummary { Rate = plan.Rate };
        result.Failover = summary;
        var name = plan.Label.Length > 0 ? plan.Label : "failover";
        var control = new RunControl();
        var probe = new FailoverProbe();
        var publishers = new List<FailoverPublisher>();
        var tasks = new List<Task>();
        Thread? pacer = null;
        var sending = true;
        var clients = plan.Lookupd.Addresses.Select(a => new LookupdClient(a, RouteResolver.RequestTimeout)).ToList();
        try
        {
            var route = await RouteResolver.ResolveTopicAsync(clients, plan.Topic, plan.Lookupd.Topic, RouteResolver.DefaultTimeout, CancellationToken.None)
                .ConfigureAwait(false);
            var routes = new Routes(plan.Lookupd.Addresses, [route]);
            result.Routes = routes;
            result.NsqdAddresses = [.. route.Nodes.Select(n => n.Address)];
            result.Target = string.Join(",", result.NsqdAddresses);
            foreach (var line in routes.Describe())
            {
                Console.WriteLine($"[{name}] {line}");
            }

            if (route.Partitions is null)
            {
                throw new LookupdException("lookupd's answer has no partitions: failover needs nsqlookupd in cluster mode (--etcd-endpoints)");
            }

            if (route.Partitions.Count != 1)
            {
                throw new LookupdException($"topic {plan.Topic} has {route.Partitions.Count} partitions: failover needs one (the other leaders would keep acknowledging)");
            }

            if (route.Nodes.Count < 2 || route.Nodes.Any(n => n.NodeId is null))
            {
                throw new LookupdException($"topic {plan.Topic} has no follower known by node id ({string.Join(", ", route.Nodes)}): nothing to fail over to");
            }

            var body = new byte[plan.Size];
            Array.Fill(body, (byte)'f');
            var command = CommandBytes.Publish(plan.Topic, 1, body, out _);
            foreach (var node in route.Nodes)
            {
                for (var i = 0; i < plan.ConnectionsPerNode; i++)
                {
                    publishers.Add(new FailoverPublisher(node, RouteSetup.Endpoint(node.Address), command, probe, control));
                }
            }

            summary.Connections = publishers.Count;
            result.Writers = publishers.Count;
            tasks.AddRange(publishers.Select(p => Task.Run(p.RunAsync)));
            pacer = new Thread(() => FailoverPublisher.Pace(publishers, plan.Rate, control, () => Volatile.Read(ref sending)))
            {
                IsBackground = true,
                Name = "failover-pacer",
            };
            pacer.Start();
            control.Start();
            if (!await WaitUntilAsync(() => Task.FromResult(publishers.TrueForAll(p => p.LastOkTimestamp != 0)), FirstAckBound).ConfigureAwait(false))
            {
                throw new BrokerErrorException($"not every connection had a publish acknowledged within {FirstAckBound.TotalSeconds:0}s " +
                    $"(acknowledged: {string.Join(", ", publishers.Select(p => $"{p.Node} {p.Acked}"))})");
            }

            await Task.Delay(plan.Warmup).ConfigureAwait(false);
            for (var kill = 1; kill <= plan.Kills; kill++)
            {
                var outcome = await KillOnceAsync(plan, clients, route, publishers, probe, kill, name).ConfigureAwait(false);
                summary.Kills.Add(outcome);
                if (outcome.FailoverMs is null)
                {
                    result.Error = $"kill {kill}: no publish sent after the SIGKILL of {outcome.NodeId} was acknowledged within {plan.FailoverTimeout.TotalSeconds:0.#}s";
                    break;
                }

                if (outcome.RecoverMs is null && plan.RestartCommand.Length > 0)
                {
                    result.Error = $"kill {kill}: {outcome.NodeId} was not back in the ISR (and publishing) within {plan.RecoverTimeout.TotalSeconds:0.#}s of its restart";
                    break;
                }

                if (kill < plan.Kills)
                {
                    await Task.Delay(plan.Settle).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is LookupdException or BrokerErrorException)
        {
            result.Error = e.Message;
        }
        finally
        {
            // Stop sending, let the last answers arrive (bounded), then close.
            Volatile.Write(ref sending, false);
            pacer?.Join(TimeSpan.FromSeconds(5));
            await WaitUntilAsync(() => Task.FromResult(publishers.TrueForAll(p => p.Pending == 0)), DrainBound).ConfigureAwait(false);
            summary.PendingAtEnd = publishers.Sum(p => p.Pending);
            control.Stop();
            await control.Abort.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
            clients.ForEach(c => c.Dispose());
        }

        foreach (var (code, count) in probe.Errors())
        {
            summary.Errors[code] = count;
        }

        summary.Unanswered = publishers.Sum(p => p.Unanswered);
        foreach (var node in publishers.GroupBy(p => p.Node.NodeId ?? p.Node.Address))
        {
            summary.Nodes.Add(new FailoverNodeCounts(node.Key, node.Sum(p => p.Acked), node.Sum(p => p.Errors), node.Sum(p => p.Unanswered)));
        }

        result.Published = publishers.Sum(p => p.Acked);
        result.DurationSeconds = control.Elapsed.TotalSeconds;
        result.PubMsgsPerSec = result.DurationSeconds > 0 ? result.Published / result.DurationSeconds : 0;
        result.MsgsPerSec = result.PubMsgsPerSec;
        return result;
    }

    private static async Task<FailoverKill> KillOnceAsync(FailoverPlan plan, List<LookupdClient> clients, TopicRoute route,
        List<FailoverPublisher> publishers, FailoverProbe probe, int kill, string name)
    {
        // A full ISR first, so every kill starts from the same state (the previous victim caught up).
        PartitionInfo? before = null;
        if (!await WaitUntilAsync(async () => (before = await PartitionAsync(clients, plan.Topic).ConfigureAwait(false)) is { Leader: not null } p &&
                p.Isr.Count == p.Replicas.Count, plan.RecoverTimeout).ConfigureAwait(false))
        {
            throw new BrokerErrorException($"kill {kill}: the partition did not have a leader and a full ISR within {plan.RecoverTimeout.TotalSeconds:0.#}s " +
                $"(last: {Describe(before)})");
        }

        var leader = before!.Leader!;
        var node = route.Nodes.FirstOrDefault(n => n.NodeId == leader)
            ?? throw new BrokerErrorException($"kill {kill}: the leader {leader} is not one of the replicas known at the start");
        var pid = BrokerLocator.LocalPid(node.Address)
            ?? throw new BrokerErrorException($"kill {kill}: no local process listens on {node.Address} (leader {leader}); the nodes must run on this machine");
        if (!PosixSignal.Kill9(pid))
        {
            throw new BrokerErrorException($"kill {kill}: kill -9 {pid} ({leader}) failed");
        }

        var killed = Stopwatch.GetTimestamp();
        probe.Arm(killed);
        var victims = publishers.Where(p => p.Node.NodeId == leader).ToList();
        var lostBefore = victims.Sum(p => p.Unanswered);
        var watch = NewLeaderAsync(clients, plan.Topic, before, plan.FailoverTimeout);
        await WaitUntilAsync(() => Task.FromResult(probe.FirstAck != 0), plan.FailoverTimeout).ConfigureAwait(false);
        var firstAck = probe.FirstAck;
        probe.Disarm();
        double? failoverMs = firstAck != 0 ? Ms(killed, firstAck) : null;
        var (lookupdMs, after) = await watch.ConfigureAwait(false);
        var lost = victims.Sum(p => p.Unanswered) - lostBefore; // the connections closed at the kill, long before this

        double? recoverMs = null;
        if (failoverMs is not null && plan.RestartCommand.Length > 0)
        {
            var restarted = Stopwatch.GetTimestamp();
            await RestartAsync(plan.RestartCommand, node, pid).ConfigureAwait(false);
            var back = await WaitUntilAsync(async () =>
                    await PartitionAsync(clients, plan.Topic).ConfigureAwait(false) is { } p && p.Isr.Contains(leader) && p.Isr.Count == p.Replicas.Count &&
                    publishers.Where(x => x.Node.NodeId == leader).All(x => x.LastOkTimestamp > restarted),
                plan.RecoverTimeout).ConfigureAwait(false);
            recoverMs = back ? Ms(restarted, Stopwatch.GetTimestamp()) : null;
        }

        var outcome = new FailoverKill(kill, leader, pid, before.LeaderEpoch, after?.Leader, after?.LeaderEpoch ?? 0, failoverMs, lookupdMs, recoverMs, lost);
        Console.WriteLine($"[{name}] {Describe(outcome)}");
        return outcome;
    }

    public static string Describe(FailoverKill k)
    {
        static string F(double? ms) => ms is { } v ? v.ToString("N1", CultureInfo.InvariantCulture) + " ms" : "never (bound reached)";
        var after = k.LeaderAfter is null ? "no new leader seen" : $"{k.LeaderAfter} leads (epoch {k.EpochAfter})";
        var recover = k.RecoverMs is null ? "" : $"; back in the ISR and publishing {F(k.RecoverMs)} after its restart";
        recover += $"; {k.Unanswered:N0} publishes on its connections unanswered";
        return string.Create(CultureInfo.InvariantCulture,
            $"kill {k.Kill}: leader {k.NodeId} (pid {k.Pid}, epoch {k.EpochBefore}) SIGKILLed, {after}: first publish sent after the kill acknowledged after {F(k.FailoverMs)}; " +
            $"lookupd named the new leader after {F(k.LookupdMs)}{recover}");
    }

    /// <summary>Polls lookupd until partition 0 has a leader of a newer epoch: (ms since the kill, the state), or (null, last seen) at the bound.</summary>
    private static async Task<(double? Ms, PartitionInfo? State)> NewLeaderAsync(List<LookupdClient> clients, string topic, PartitionInfo before, TimeSpan bound)
    {
        var start = Stopwatch.GetTimestamp();
        PartitionInfo? seen = null;
        var moved = await WaitUntilAsync(async () => (seen = await PartitionAsync(clients, topic).ConfigureAwait(false)) is { Leader: not null } p &&
            p.LeaderEpoch > before.LeaderEpoch, bound).ConfigureAwait(false);
        return (moved ? Ms(start, Stopwatch.GetTimestamp()) : null, seen);
    }

    /// <summary>Partition 0 as the first lookupd that answers sees it (null: none answered).</summary>
    private static async Task<PartitionInfo?> PartitionAsync(List<LookupdClient> clients, string topic)
    {
        foreach (var client in clients)
        {
            try
            {
                if (await client.LookupAsync(topic, CancellationToken.None).ConfigureAwait(false) is { Partitions: [var p, ..] })
                {
                    return p;
                }
            }
            catch (LookupdException)
            {
                // ask the next one
            }
        }

        return null;
    }

    /// <summary>Runs the restart command (sh -c, its stdout to our stderr so the JSON stays the last stdout line), bounded.</summary>
    private static async Task RestartAsync(string template, RouteNode node, int pid)
    {
        var command = template
            .Replace("{node_id}", node.NodeId, StringComparison.Ordinal)
            .Replace("{tcp_address}", node.Address, StringComparison.Ordinal)
            .Replace("{pid}", pid.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec 1>&2; " + command);
        using var process = Process.Start(start) ?? throw new BrokerErrorException($"cannot run the restart command: {command}");
        using var bound = new CancellationTokenSource(RestartBound);
        try
        {
            await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new BrokerErrorException($"the restart command did not return within {RestartBound.TotalSeconds:0}s: {command}");
        }

        if (process.ExitCode != 0)
        {
            throw new BrokerErrorException($"the restart command exited with {process.ExitCode}: {command}");
        }
    }

    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan bound)
    {
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            if (await condition().ConfigureAwait(false))
            {
                return true;
            }

            if (Stopwatch.GetElapsedTime(start) >= bound)
            {
                return false;
            }

            await Task.Delay(Poll).ConfigureAwait(false);
        }
    }

    private static double Ms(long from, long to) => Math.Round(Stopwatch.GetElapsedTime(from, to).TotalMilliseconds, 1);

    private static string Describe(PartitionInfo? p) =>
        p is null ? "no answer" : $"leader {p.Leader ?? "none"}, epoch {p.LeaderEpoch}, replicas {string.Join(",", p.Replicas)}, isr {string.Join(",", p.Isr)}";
}
