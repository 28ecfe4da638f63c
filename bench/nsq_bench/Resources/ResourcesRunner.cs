using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Measure;
using NsqSharp.Bench.Wire;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Resources;

/// <summary>
/// The resources verb: drives a broker into one state (many topics, many idle connections, a stuck consumer)
/// and reports its RSS and open descriptors before, at peak and after, as one JSON line on stdout.
/// </summary>
internal static class ResourcesRunner
{
    public static async Task<int> RunAsync(ResourcesOptions o)
    {
        var endpoint = NsqEndpoint.Parse(o.NsqdTcpAddress);
        var pid = o.BrokerPid > 0 ? o.BrokerPid : ListeningProcessFinder.FindPid(endpoint.Port);
        if (pid is not int brokerPid)
        {
            Console.Error.WriteLine($"nsq_bench resources: no local process listens on {o.NsqdTcpAddress}; pass --broker-pid");
            return 2;
        }

        var progress = new ProgressLine(o.Progress);
        var settle = GoDuration.ParseFlag("settle", o.Settle);
        var before = BrokerSample.Take(brokerPid);
        var peak = before;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = BrokerSample.Max(peak, BrokerSample.Take(brokerPid));
                try
                {
                    await Task.Delay(200, sampling.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        if (o.Scenario is not ("topics" or "idle" or "stuck"))
        {
            Console.Error.WriteLine($"nsq_bench resources: unknown --scenario \"{o.Scenario}\" (topics, idle, stuck)");
            return 2;
        }

        var watch = Stopwatch.StartNew();
        BrokerSample held;
        string? error = null;
        try
        {
            held = o.Scenario switch
            {
                "topics" => await CreateTopicsAsync(endpoint, o.Count, Math.Max(1, o.Concurrency), brokerPid, settle, progress).ConfigureAwait(false),
                "idle" => await HoldIdleConnectionsAsync(endpoint, o.Count, brokerPid, settle, progress).ConfigureAwait(false),
                _ => await StuckConsumerAsync(endpoint, o.Size, o.Bytes, brokerPid, settle, progress).ConfigureAwait(false),
            };
        }
        catch (Exception e) when (e is BrokerErrorException or SocketException or IOException)
        {
            // The broker failed or died under the load: that is the finding, so report it rather than crash.
            error = e.Message;
            held = BrokerSample.Take(brokerPid);
        }

        await sampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        peak = BrokerSample.Max(peak, held);
        progress.Done();

        var line = new Dictionary<string, object>
        {
            ["mode"] = "resources",
            ["scenario"] = o.Scenario,
            ["label"] = o.Label,
            ["count"] = o.Scenario == "stuck" ? o.Bytes / Math.Max(1, o.Size) : o.Count,
            ["size"] = o.Scenario == "stuck" ? o.Size : 16,
            ["seconds"] = Math.Round(watch.Elapsed.TotalSeconds, 1),
            ["rss_before_mib"] = Mib(before.RssBytes),
            ["rss_held_mib"] = Mib(held.RssBytes),
            ["rss_peak_mib"] = Mib(peak.RssBytes),
            ["fds_before"] = before.OpenFds,
            ["fds_held"] = held.OpenFds,
            ["fds_peak"] = peak.OpenFds,
            ["alive"] = BrokerSample.IsAlive(brokerPid),
            ["error"] = error ?? "",
        };
        Console.WriteLine(JsonSerializer.Serialize(line));
        return BrokerSample.IsAlive(brokerPid) ? 0 : 1;
    }

    private static double Mib(long bytes) => Math.Round(bytes / 1048576.0, 1);

    /// <summary>One PUB per topic (a PUB creates its topic, as in upstream), spread over parallel connections.</summary>
    private static async Task<BrokerSample> CreateTopicsAsync(IPEndPoint endpoint, int count, int concurrency, int pid, TimeSpan settle, ProgressLine progress)
    {
        var next = -1;
        var done = 0;
        var body = new byte[16];
        var workers = Enumerable.Range(0, concurrency).Select(async w =>
        {
            using var conn = await NsqConnection.OpenAsync(endpoint, new IdentifySettings($"resources-{w}"), 64 * 1024, CancellationToken.None).ConfigureAwait(false);
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await conn.CommandAsync(CommandBytes.Publish(TopicName(i), 1, body, out _)).ConfigureAwait(false);
                progress.Report("topics", Interlocked.Increment(ref done), count);
            }
        }).ToList();
        await Task.WhenAll(workers).ConfigureAwait(false);
        await Task.Delay(settle).ConfigureAwait(false);
        return BrokerSample.Take(pid);
    }

    private static string TopicName(int i) => "res_" + i.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>Opens count connections (magic + IDENTIFY), holds them through the settle time, samples, closes.</summary>
    private static async Task<BrokerSample> HoldIdleConnectionsAsync(IPEndPoint endpoint, int count, int pid, TimeSpan settle, ProgressLine progress)
    {
        var connections = new List<NsqConnection>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                connections.Add(await NsqConnection.OpenAsync(endpoint, new IdentifySettings($"idle-{i}"), 1024, CancellationToken.None).ConfigureAwait(false));
                progress.Report("connections", i + 1, count);
            }

            await Task.Delay(settle).ConfigureAwait(false);
            return BrokerSample.Take(pid);
        }
        finally
        {
            foreach (var c in connections)
            {
                c.Dispose();
            }
        }
    }

    /// <summary>A consumer takes one message and never FINs it; a producer publishes bytes of size-byte messages.</summary>
    private static async Task<BrokerSample> StuckConsumerAsync(IPEndPoint endpoint, int size, long bytes, int pid, TimeSpan settle, ProgressLine progress)
    {
        var topic = "res_stuck_" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var consumer = await NsqConnection.OpenAsync(endpoint, new IdentifySettings("stuck-consumer"), 64 * 1024, CancellationToken.None).ConfigureAwait(false);
        await consumer.CommandAsync(CommandBytes.Subscribe(topic, "stuck")).ConfigureAwait(false);
        await consumer.SendAsync(CommandBytes.Ready(1)).ConfigureAwait(false);

        using var producer = await NsqConnection.OpenAsync(endpoint, new IdentifySettings("stuck-producer"), 64 * 1024, CancellationToken.None).ConfigureAwait(false);
        var messages = Math.Max(1, bytes / size);
        var body = new byte[size];
        var command = CommandBytes.Publish(topic, 1, body, out _);
        for (long i = 0; i < messages; i++)
        {
            await producer.CommandAsync(command).ConfigureAwait(false);
            progress.Report("MB published", (i + 1) * size >> 20, messages * size >> 20);
        }

        await Task.Delay(settle).ConfigureAwait(false);
        return BrokerSample.Take(pid);
    }

    /// <summary>Throttled progress on stderr (a line at most every 500 ms), off unless asked or a terminal.</summary>
    private sealed class ProgressLine(string mode)
    {
        private readonly bool _enabled = mode == "on" || (mode == "auto" && !Console.IsErrorRedirected);
        private long _lastTick;

        public void Report(string what, long done, long total)
        {
            var now = Environment.TickCount64;
            if (!_enabled || (done < total && now - Interlocked.Read(ref _lastTick) < 500))
            {
                return;
            }

            Interlocked.Exchange(ref _lastTick, now);
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r{what}: {done}/{total} ({100.0 * done / Math.Max(1, total):F0}%)   "));
        }

        public void Done()
        {
            if (_enabled)
            {
                Console.Error.WriteLine();
            }
        }
    }

    /// <summary>RSS and open descriptors of the broker, from /proc.</summary>
    private readonly record struct BrokerSample(long RssBytes, int OpenFds)
    {
        public static BrokerSample Take(int pid)
        {
            try
            {
                return new BrokerSample(ProcessSampler.RssBytes(pid), Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return default; // the broker died; IsAlive says so
            }
        }

        public static BrokerSample Max(BrokerSample a, BrokerSample b) => new(Math.Max(a.RssBytes, b.RssBytes), Math.Max(a.OpenFds, b.OpenFds));

        public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");
    }
}
