using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Http;

namespace NsqSharp.Nsqd.Statsd;

/// <summary>
/// Pushes upstream's statsd stats (nsqd/statsd.go) every --statsd-interval over UDP: per topic and
/// channel message counts as counters (deltas since the last push), depths, in-flight, deferred and
/// client counts as gauges, E2E latency percentiles, and memory gauges. Lines are packed into
/// datagrams of at most --statsd-udp-packet-size bytes. The numbers are the /stats snapshot's.
/// </summary>
internal sealed class StatsdReporter : IAsyncDisposable
{
    private readonly NsqdServer _server;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, long> _lastCounters = new(StringComparer.Ordinal);
    private Task? _loop;

    public StatsdReporter(NsqdServer server, ILogger logger)
    {
        _server = server;
        _logger = logger;
    }

    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var options = _server.Options;
        using var timer = new PeriodicTimer(options.StatsdInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                try
                {
                    var lines = Collect(StatsSnapshot.Take(_server, new StatsFilter(null, null, IncludeClients: false, IncludeMemory: false)));
                    await SendAsync(lines).ConfigureAwait(false);
                    _logger.LogInformation("STATSD: pushed {Count} stats to {Address}", lines.Count, options.StatsdAddress);
                }
                catch (Exception e) when (e is SocketException or FormatException or ArgumentException)
                {
                    _logger.LogError("STATSD: failed to push to {Address}: {Error}", options.StatsdAddress, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The stat lines of one push, prefix included ("nsq.host_4151.topic.t.depth:3|g").</summary>
    internal List<string> Collect(StatsSnapshot snapshot)
    {
        var options = _server.Options;
        var prefix = Prefix(options.StatsdPrefix, options.BroadcastAddress, _server.BroadcastHttpPort);
        var lines = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in snapshot.Topics ?? [])
        {
            if (options.StatsdExcludeEphemeral && Common.Protocol.NsqNames.IsEphemeral(t.Name))
            {
                continue;
            }

            var topic = $"topic.{t.Name}";
            Counter(lines, seen, prefix, topic + ".message_count", t.MessageCount);
            Counter(lines, seen, prefix, topic + ".message_bytes", t.MessageBytes);
            Gauge(lines, prefix, topic + ".depth", t.Depth);
            Gauge(lines, prefix, topic + ".backend_depth", t.Depth);
            Latencies(lines, prefix, topic, t.E2E);
            foreach (var c in t.Channels)
            {
                if (options.StatsdExcludeEphemeral && Common.Protocol.NsqNames.IsEphemeral(c.Name))
                {
                    continue;
                }

                var channel = $"{topic}.channel.{c.Name}";
                Counter(lines, seen, prefix, channel + ".message_count", c.MessageCount);
                Gauge(lines, prefix, channel + ".depth", c.Depth);
                Gauge(lines, prefix, channel + ".backend_depth", c.Depth);
                Gauge(lines, prefix, channel + ".in_flight_count", c.InFlightCount);
                Gauge(lines, prefix, channel + ".deferred_count", c.DeferredCount);
                Counter(lines, seen, prefix, channel + ".requeue_count", c.RequeueCount);
                Counter(lines, seen, prefix, channel + ".timeout_count", c.TimeoutCount);
                Gauge(lines, prefix, channel + ".clients", c.ClientCount);
                Latencies(lines, prefix, channel, c.E2E);
            }
        }

        if (options.StatsdMemStats)
        {
            var info = GC.GetGCMemoryInfo();
            Gauge(lines, prefix, "mem.heap_in_use_bytes", GC.GetTotalMemory(false));
            Gauge(lines, prefix, "mem.heap_idle_bytes", Math.Max(0, info.TotalCommittedBytes - info.HeapSizeBytes));
            Gauge(lines, prefix, "mem.next_gc_bytes", info.HighMemoryLoadThresholdBytes);
            Counter(lines, seen, prefix, "mem.gc_runs", GC.CollectionCount(0));
        }

        // Forget counters of topics and channels that are gone.
        foreach (var key in new List<string>(_lastCounters.Keys))
        {
            if (!seen.Contains(key))
            {
                _lastCounters.Remove(key);
            }
        }

        return lines;
    }

    /// <summary>Upstream's prefix: "%s" → broadcast address and HTTP port with '.' and ':' as '_', ending in '.'.</summary>
    internal static string Prefix(string template, string broadcastAddress, int httpPort)
    {
        if (template.Length == 0)
        {
            return "";
        }

        var hostKey = $"{broadcastAddress}:{httpPort}".Replace('.', '_').Replace(':', '_');
        var prefix = template.Replace("%s", hostKey, StringComparison.Ordinal);
        return prefix.EndsWith('.') ? prefix : prefix + ".";
    }

    private void Counter(List<string> lines, HashSet<string> seen, string prefix, string stat, long total)
    {
        seen.Add(stat);
        _lastCounters.TryGetValue(stat, out var last);
        _lastCounters[stat] = total;
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}{stat}:{Math.Max(0, total - last)}|c"));
    }

    private static void Gauge(List<string> lines, string prefix, string stat, long value) =>
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}{stat}:{value}|g"));

    private static void Latencies(List<string> lines, string prefix, string stat, List<(double Quantile, long Value)> values)
    {
        foreach (var (q, v) in values)
        {
            Gauge(lines, prefix, string.Create(CultureInfo.InvariantCulture, $"{stat}.e2e_processing_latency_{q * 100:0}"), v);
        }
    }

    /// <summary>Packs lines into datagrams no larger than the packet size (a longer single line goes alone).</summary>
    private async Task SendAsync(List<string> lines)
    {
        var options = _server.Options;
        var endpoint = NsqdServer.ParseEndPoint(options.StatsdAddress);
        using var udp = new UdpClient(endpoint.AddressFamily);
        udp.Connect(endpoint);
        var packet = new StringBuilder(options.StatsdUdpPacketSize);
        foreach (var line in lines)
        {
            if (packet.Length > 0 && packet.Length + 1 + line.Length > options.StatsdUdpPacketSize)
            {
                await udp.SendAsync(Encoding.UTF8.GetBytes(packet.ToString()), _stop.Token).ConfigureAwait(false);
                packet.Clear();
            }

            if (packet.Length > 0)
            {
                packet.Append('\n');
            }

            packet.Append(line);
        }

        if (packet.Length > 0)
        {
            await udp.SendAsync(Encoding.UTF8.GetBytes(packet.ToString()), _stop.Token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop != null)
        {
            await _loop.ConfigureAwait(false);
        }

        _stop.Dispose();
    }
}
