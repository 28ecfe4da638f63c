using System.Diagnostics;
using System.Net;
using NsqSharp.Bench.Cluster;
using NsqSharp.Bench.Load;
using NsqSharp.Bench.Measure;
using NsqSharp.Bench.Report;
using NsqSharp.Bench.Wire;

namespace NsqSharp.Bench.Modes;

/// <summary>
/// Runs writer, reader, pubsub, fanout and manytopics: open every connection, start them together,
/// sample once per interval until --runfor (or the reader went idle), stop, and total up.
/// </summary>
internal static class ThroughputRunner
{
    private const int WriterReadBuffer = 4 * 1024;
    private const int ReaderReadBuffer = 256 * 1024;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DrainedGap = TimeSpan.FromMilliseconds(250);

    // Timers can fire a hair early; a remainder this small is the end of the run, not another sample.
    private static readonly TimeSpan EndSlack = TimeSpan.FromMilliseconds(20);

    public static async Task<BenchResult> RunAsync(ThroughputPlan plan)
    {
        var result = new BenchResult
        {
            Mode = plan.Mode,
            Label = plan.Label,
            Target = plan.Address,
            Size = plan.Size,
            BatchSize = plan.BatchSize,
            Topics = plan.Topics.Length,
            Channels = plan.Channels.Length,
        };
        var name = plan.Label.Length > 0 ? plan.Label : plan.Mode;
        Routes routes;
        try
        {
            routes = await RouteSetup.ResolveAsync(plan.Lookupd, plan.Address, plan.Topics, name).ConfigureAwait(false);
        }
        catch (LookupdException e)
        {
            result.Error = e.Message;
            return result;
        }

        RouteSetup.Apply(result, routes);
        var writerTargets = plan.WriterTargets(routes);
        var readerTargets = plan.ReaderTargets(routes);
        result.Writers = writerTargets.Count;
        result.Readers = readerTargets.Count;
        var pub = new WorkerCounters(writerTargets.Count);
        var sub = new WorkerCounters(readerTargets.Count);
        var series = new List<(string, WorkerCounters)>();
        if (writerTargets.Count > 0)
        {
            series.Add(("pub", pub));
        }

        if (readerTargets.Count > 0)
        {
            series.Add(("sub", sub));
        }

        var sampler = new RunSampler(series, BrokerLocator.LocateAll(plan.BrokerPid, routes.NodeAddresses));
        var control = new RunControl();
        var connections = new List<NsqConnection>();
        var publishers = new List<PublishWorker>();
        var subscribers = new List<SubscribeWorker>();
        try
        {
            await ConnectAsync(plan, writerTargets, readerTargets, control, pub, sub, connections, publishers, subscribers).ConfigureAwait(false);
            await DeadlineWait.UntilAsync(plan.StartAtUtc).ConfigureAwait(false);

            var tasks = new List<Task>();
            tasks.AddRange(publishers.Select(p => Task.Run(p.RunAsync)));
            tasks.AddRange(subscribers.Select(s => Task.Run(s.RunAsync)));
            var stoppedIdle = await ProgressDisplay.RunAsync(plan.Progress, name, plan.RunFor, sampler.SeriesNames, plan.Size,
                display => MonitorAsync(plan, control, sampler, subscribers, tasks, display)).ConfigureAwait(false);
            var stopTimestamp = Stopwatch.GetTimestamp();
            control.Stop();
            await control.Abort.CancelAsync().ConfigureAwait(false);
            var all = Task.WhenAll(tasks);
            if (await Task.WhenAny(all, Task.Delay(StopGrace)).ConfigureAwait(false) != all)
            {
                result.Error = $"workers did not stop within {StopGrace.TotalSeconds:0}s of the end (broker stalled?)";
            }
            else if (all.Exception is { } failed)
            {
                result.Error = failed.InnerExceptions[0].Message;
            }

            Summarize(plan, result, control, pub, sub, publishers, subscribers, stopTimestamp, stoppedIdle);
        }
        catch (BrokerErrorException e)
        {
            result.Error = e.Message;
        }
        finally
        {
            foreach (var c in connections)
            {
                c.Dispose();
            }
        }

        result.AttachSamples(sampler);
        return result;
    }

    private static async Task ConnectAsync(ThroughputPlan plan, List<PublishTarget> writerTargets, List<ConsumeTarget> readerTargets, RunControl control,
        WorkerCounters pub, WorkerCounters sub, List<NsqConnection> connections, List<PublishWorker> publishers, List<SubscribeWorker> subscribers)
    {
        // One command per topic, built once and shared read-only by every connection publishing to it.
        var body = new byte[plan.Size];
        Array.Fill(body, (byte)'a');
        var commands = plan.Topics.Distinct(StringComparer.Ordinal)
            .ToDictionary(t => t, t => CommandBytes.Publish(t, plan.BatchSize, body, out _), StringComparer.Ordinal);
        var endpoints = new Dictionary<string, IPEndPoint>(StringComparer.Ordinal);
        IPEndPoint EndpointOf(string address) => endpoints.TryGetValue(address, out var e) ? e : endpoints[address] = RouteSetup.Endpoint(address);

        var opens = new List<Task<NsqConnection>>();
        foreach (var target in writerTargets)
        {
            opens.Add(NsqConnection.OpenAsync(EndpointOf(target.Address), new IdentifySettings("bench_writer"), WriterReadBuffer, CancellationToken.None));
        }

        foreach (var target in readerTargets)
        {
            opens.Add(NsqConnection.OpenAsync(EndpointOf(target.Address), new IdentifySettings("bench_reader"), ReaderReadBuffer, CancellationToken.None));
        }

        try
        {
            await Task.WhenAll(opens).ConfigureAwait(false);
        }
        finally
        {
            connections.AddRange(opens.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
        }

        for (var i = 0; i < writerTargets.Count; i++)
        {
            publishers.Add(new PublishWorker(opens[i].Result, commands[writerTargets[i].Topic], plan.BatchSize, plan.Pipeline, pub, i, control));
        }

        for (var i = 0; i < readerTargets.Count; i++)
        {
            var target = readerTargets[i];
            subscribers.Add(new SubscribeWorker(opens[writerTargets.Count + i].Result, target.Topic, target.Channel, plan.Rdy, sub, i, control, sink: null));
        }

        await Task.WhenAll(subscribers.Select(s => s.SubscribeAsync(CancellationToken.None))).ConfigureAwait(false);
    }

    /// <summary>Samples until --runfor, a failed worker, or (reader) an idle backlog. True when stopped for idleness.</summary>
    private static async Task<bool> MonitorAsync(ThroughputPlan plan, RunControl control, RunSampler sampler,
        List<SubscribeWorker> subscribers, List<Task> tasks, ProgressDisplay? display)
    {
        control.Start();
        sampler.Begin(control.StartTimestamp);
        while (true)
        {
            var remaining = plan.RunFor - control.Elapsed;
            if (remaining <= EndSlack)
            {
                return false;
            }

            // The last wait takes the remainder whole, so no sample covers a sliver (CPU from /proc has 10 ms ticks).
            await Task.Delay(remaining < plan.SampleInterval * 1.5 ? remaining : plan.SampleInterval).ConfigureAwait(false);
            var sample = sampler.Tick();
            display?.Update(sample);
            if (tasks.Exists(t => t.IsFaulted))
            {
                return false;
            }

            if (plan.IdleStop > TimeSpan.Zero && IsIdle(plan, control, subscribers))
            {
                return true;
            }
        }
    }

    private static bool IsIdle(ThroughputPlan plan, RunControl control, List<SubscribeWorker> subscribers)
    {
        var last = subscribers.Count == 0 ? 0 : subscribers.Max(s => s.LastMessageTimestamp);
        if (last == 0)
        {
            // Nothing at all yet: give an empty topic a while before calling it idle.
            return control.Elapsed > plan.IdleStop + TimeSpan.FromSeconds(5);
        }

        return Stopwatch.GetElapsedTime(last) > plan.IdleStop;
    }

    private static void Summarize(ThroughputPlan plan, BenchResult result, RunControl control, WorkerCounters pub, WorkerCounters sub,
        List<PublishWorker> publishers, List<SubscribeWorker> subscribers, long stopTimestamp, bool stoppedIdle)
    {
        var start = control.StartTimestamp;
        var pubEnd = publishers.Count == 0 ? stopTimestamp : Math.Max(stopTimestamp, publishers.Max(p => p.FinishTimestamp));
        var lastMessage = subscribers.Count == 0 ? 0 : subscribers.Max(s => s.LastMessageTimestamp);
        // A drained backlog (idle stop, or nothing arrived in the last moments of --runfor) is measured
        // up to its last message, not to the end of the waiting.
        var drained = stoppedIdle || (plan.Mode == "reader" && Stopwatch.GetElapsedTime(lastMessage, stopTimestamp) > DrainedGap);
        var subEnd = drained && lastMessage > start ? lastMessage : stopTimestamp;
        var pubSeconds = Stopwatch.GetElapsedTime(start, pubEnd).TotalSeconds;
        var subSeconds = Stopwatch.GetElapsedTime(start, subEnd).TotalSeconds;

        result.Published = pub.Total();
        result.Consumed = sub.Total();
        result.PubMsgsPerSec = publishers.Count > 0 && pubSeconds > 0 ? result.Published / pubSeconds : 0;
        result.SubMsgsPerSec = subscribers.Count > 0 && subSeconds > 0 ? result.Consumed / subSeconds : 0;
        result.MsgsPerSec = plan.Mode == "writer" ? result.PubMsgsPerSec : result.SubMsgsPerSec;
        result.DurationSeconds = plan.Mode == "writer" ? pubSeconds : subSeconds;
        var fatal = subscribers.Select(s => s.LastError).FirstOrDefault(e => e is not null);
        if (result.Error is null && fatal is not null)
        {
            result.Error = fatal;
        }
    }
}
