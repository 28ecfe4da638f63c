using System.Diagnostics;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Load;
using NsqSharp.Bench.Measure;
using NsqSharp.Bench.Report;
using NsqSharp.Bench.Wire;

namespace NsqSharp.Bench.Modes;

/// <summary>
/// Latency mode: consumers subscribe first, then paced publishers send on schedule for --runfor;
/// afterwards the run waits (up to --drain-timeout) for the last OKs and deliveries before totalling.
/// </summary>
internal static class LatencyRunner
{
    public static async Task<BenchResult> RunAsync(LatencyPlan plan)
    {
        var result = new BenchResult
        {
            Mode = "latency",
            Label = plan.Label,
            Target = plan.Address,
            Size = plan.Size,
            BatchSize = plan.BatchSize,
            Topics = 1,
            Channels = 1,
            TargetRate = plan.Rate,
        };
        var name = plan.Label.Length > 0 ? plan.Label : "latency";
        Routes routes;
        try
        {
            routes = await RouteSetup.ResolveAsync(plan.Lookupd, plan.Address, [plan.Topic], name).ConfigureAwait(false);
        }
        catch (LookupdException e)
        {
            result.Error = e.Message;
            return result;
        }

        RouteSetup.Apply(result, routes);
        // Publishers spread over the leaders (the rate over all of them); at least one consumer per leader reads every partition.
        var publisherTargets = TargetAssignment.Publishers([plan.Topic], routes, plan.Concurrency);
        var consumerTargets = TargetAssignment.Consumers([plan.Topic], [plan.Channel], routes, plan.Concurrency);
        result.Writers = publisherTargets.Count;
        result.Readers = consumerTargets.Count;
        var acked = new WorkerCounters(publisherTargets.Count);
        var received = new WorkerCounters(consumerTargets.Count);
        var sampler = new RunSampler([("pub", acked), ("sub", received)], BrokerLocator.LocateAll(plan.BrokerPid, routes.NodeAddresses));
        var control = new RunControl();
        var schedule = new LatencySchedule((double)plan.Rate / plan.BatchSize, plan.Warmup, plan.RunFor);
        var connections = new List<NsqConnection>();
        var publishers = new List<PacedPublisher>();
        var sinks = new List<LatencySink>();
        var consumers = new List<SubscribeWorker>();
        try
        {
            for (var i = 0; i < consumerTargets.Count; i++)
            {
                var c = await NsqConnection.OpenAsync(RouteSetup.Endpoint(consumerTargets[i].Address),
                    new IdentifySettings("bench_latency_reader", plan.OutputBufferSize, plan.OutputBufferTimeoutMs), 256 * 1024, CancellationToken.None).ConfigureAwait(false);
                connections.Add(c);
                var sink = new LatencySink(plan.RunId, schedule);
                sinks.Add(sink);
                var worker = new SubscribeWorker(c, plan.Topic, plan.Channel, plan.Rdy, received, i, control, sink);
                await worker.SubscribeAsync(CancellationToken.None).ConfigureAwait(false);
                consumers.Add(worker);
            }

            for (var i = 0; i < publisherTargets.Count; i++)
            {
                var c = await NsqConnection.OpenAsync(RouteSetup.Endpoint(publisherTargets[i].Address), new IdentifySettings("bench_latency_writer"), 64 * 1024,
                    CancellationToken.None).ConfigureAwait(false);
                connections.Add(c);
                publishers.Add(new PacedPublisher(c, plan.Topic, plan.Size, plan.BatchSize, schedule, i, publisherTargets.Count, plan.RunId, plan.Spin, control, acked));
            }

            await DeadlineWait.UntilAsync(plan.StartAtUtc).ConfigureAwait(false);
            var tasks = consumers.Select(c => Task.Run(c.RunAsync)).ToList();
            tasks.AddRange(publishers.Select(p => Task.Run(p.AckLoopAsync)));
            var senders = publishers.Select(p => new Thread(p.SendLoop) { IsBackground = true, Name = "paced-publisher" }).ToList();
            senders.ForEach(t => t.Start());

            await ProgressDisplay.RunAsync(plan.Progress, name, plan.RunFor, sampler.SeriesNames, plan.Size,
                display => MonitorAsync(plan, control, schedule, sampler, publishers, sinks, tasks, display)).ConfigureAwait(false);
            control.Stop();
            await control.Abort.CancelAsync().ConfigureAwait(false);
            foreach (var t in senders)
            {
                t.Join(TimeSpan.FromSeconds(10));
            }

            await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
            var failed = tasks.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerExceptions[0]
                ?? publishers.Select(p => p.SendError).FirstOrDefault(e => e is not null);
            result.Error = failed?.Message ?? consumers.Select(c => c.LastError).FirstOrDefault(e => e is not null);
            Summarize(plan, result, publishers, sinks);
        }
        catch (BrokerErrorException e)
        {
            result.Error = e.Message;
        }
        finally
        {
            control.Stop();
            foreach (var c in connections)
            {
                c.Dispose();
            }
        }

        result.AttachSamples(sampler);
        return result;
    }

    private static async Task<bool> MonitorAsync(LatencyPlan plan, RunControl control, LatencySchedule schedule, RunSampler sampler,
        List<PacedPublisher> publishers, List<LatencySink> sinks, List<Task> tasks, ProgressDisplay? display)
    {
        var start = Stopwatch.GetTimestamp();
        schedule.Begin(start);
        sampler.Begin(start);
        control.Start();

        // Publishing phase.
        while (plan.RunFor - control.Elapsed > TimeSpan.FromMilliseconds(20) && !tasks.Exists(t => t.IsFaulted) && !publishers.TrueForAll(p => p.SenderDone))
        {
            var remaining = plan.RunFor - control.Elapsed;
            // The last wait takes the remainder whole, so no sample covers a sliver (CPU from /proc has 10 ms ticks).
            await Task.Delay(remaining < plan.SampleInterval * 1.5 ? remaining : plan.SampleInterval).ConfigureAwait(false);
            var sample = sampler.Tick();
            display?.Update(sample);
        }

        // Drain phase: wait for outstanding OKs and deliveries.
        var drainStart = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(drainStart) < plan.DrainTimeout && !tasks.Exists(t => t.IsFaulted))
        {
            var sent = publishers.Sum(p => p.SentMessages);
            var acked = publishers.Sum(p => p.AckedMessages);
            var delivered = sinks.Sum(s => s.Matched);
            if (publishers.TrueForAll(p => p.SenderDone) && acked >= sent && delivered >= acked)
            {
                break;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        var last = sampler.Tick();
        display?.Update(last, "drained");
        return true;
    }

    private static void Summarize(LatencyPlan plan, BenchResult result, List<PacedPublisher> publishers, List<LatencySink> sinks)
    {
        var ack = new LogLinearHistogram();
        var lag = new LogLinearHistogram();
        foreach (var p in publishers)
        {
            ack.Add(p.Ack);
            lag.Add(p.SendLag);
        }

        var e2e = new LogLinearHistogram();
        foreach (var s in sinks)
        {
            e2e.Add(s.Histogram);
        }

        var sent = publishers.Sum(p => p.SentMessages);
        result.Published = publishers.Sum(p => p.AckedMessages);
        result.Consumed = sinks.Sum(s => s.Matched);
        result.Unacked = sent - result.Published;
        result.Undelivered = Math.Max(0, result.Published - result.Consumed);
        var measuredSeconds = (plan.RunFor - plan.Warmup).TotalSeconds;
        result.DurationSeconds = plan.RunFor.TotalSeconds;
        result.PubMsgsPerSec = result.Published / plan.RunFor.TotalSeconds;
        result.SubMsgsPerSec = result.Consumed / plan.RunFor.TotalSeconds;
        result.MsgsPerSec = e2e.Count / measuredSeconds;
        result.Ack = LatencySummary.FromNanoseconds(ack);
        result.EndToEnd = LatencySummary.FromNanoseconds(e2e);
        result.SendLag = LatencySummary.FromNanoseconds(lag);
        var foreign = sinks.Sum(s => s.Foreign);
        if (foreign > 0)
        {
            Console.Error.WriteLine($"note: {foreign} messages from earlier runs were consumed and ignored (use a fresh --topic)");
        }
    }
}
