using System.Collections.Concurrent;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Nsqd.Tests.Hardening;

/// <summary>
/// A bounded soak of routine operator actions under load, against the real process. Publishers and consumers
/// run on a "kept" topic while an operator loop pauses and unpauses it and its channel, seeks the channel back
/// (redelivery only), and adds, empties and deletes side channels; on "churn" topics the loop also deletes and
/// re-creates topics and channels, empties them and seeks both ways while their own clients come and go.
/// Checks: every message acknowledged on the kept topic reaches its channel (nothing there is deliberately
/// emptied), RSS stays below <see cref="MaxRssBytes"/>, /ping always answers, and the process stays up.
/// Length: NSQSHARP_SOAK_SECONDS (default 45).
/// </summary>
public sealed class OperatorSoakTests(ITestOutputHelper output)
{
    private const long MaxRssBytes = 512L << 20;
    private static readonly TimeSpan PingBudget = TimeSpan.FromSeconds(10); // a hang detector, not a latency check

    [Fact(Timeout = 600_000)]
    public async Task RoutineOperatorActionsUnderLoadLoseNothingAndStayBounded()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("NSQSHARP_SOAK_SECONDS"), out var s) && s > 0 ? s : 45;
        await using var nsqd = await NsqdInstance.StartAsync(["--msg-timeout=10s", "--max-channel-read-ahead-bytes=1048576"]);
        var pid = nsqd.Process.Process.Pid;
        var kept = Names.Unique("soak_kept");
        var churn = Enumerable.Range(0, 3).Select(i => Names.Unique($"soak_churn{i}")).ToArray();
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={kept}")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/create?topic={kept}&channel=verify")).Status);

        using var stop = new CancellationTokenSource();
        var acked = new ConcurrentDictionary<string, bool>();
        var seen = new ConcurrentDictionary<string, bool>();
        var stats = new SoakStats();

        var keptPublishers = Enumerable.Range(0, 2).Select(p => Task.Run(() => PublishKeptAsync(nsqd, kept, p, acked, stats, stop.Token))).ToList();
        var verifier = Task.Run(() => ConsumeAsync(nsqd, kept, "verify", seen, stats, CancellationToken.None, stopWhen: () => stop.IsCancellationRequested && seen.Count >= acked.Count && acked.Keys.All(seen.ContainsKey)));
        var churnClients = churn.SelectMany(t => new[]
        {
            Task.Run(() => PublishChurnAsync(nsqd, t, stats, stop.Token)),
            Task.Run(() => ConsumeAsync(nsqd, t, "ch", null, stats, stop.Token, stopWhen: () => stop.IsCancellationRequested)),
        }).ToList();
        var operatorLoop = Task.Run(() => OperateAsync(nsqd, kept, churn, stats, stop.Token));

        long maxRss = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        using (var ping = new HttpClient { Timeout = PingBudget })
        {
            while (DateTime.UtcNow < deadline)
            {
                await Task.Delay(1000);
                Assert.False(nsqd.Process.Process.HasExited, $"nsqd exited:\n{nsqd.Output}");
                maxRss = Math.Max(maxRss, ProcessResources.RssBytes(pid));
                using var pong = await ping.GetAsync(nsqd.HttpBase + "/ping"); // throws on a hang
                Assert.True(pong.IsSuccessStatusCode, $"/ping answered {(int)pong.StatusCode}");
                Assert.False(operatorLoop.IsFaulted, operatorLoop.Exception?.ToString());
                foreach (var p in keptPublishers)
                {
                    Assert.False(p.IsFaulted, p.Exception?.ToString());
                }
            }
        }

        await stop.CancelAsync();
        // Every client's end, reported together: a failure names which task failed and how (a CI log is all we get).
        var all = new List<(string Name, Task Task)> { ("operator loop", operatorLoop) };
        all.AddRange(keptPublishers.Select((t, i) => ($"kept publisher {i}", t)));
        all.AddRange(churnClients.Select((t, i) => ($"churn client {i}", t)));
        try
        {
            await Task.WhenAll(all.Select(a => a.Task)).WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception)
        {
            var failures = all.Where(a => !a.Task.IsCompletedSuccessfully)
                .Select(a => $"{a.Name}: {(a.Task.IsFaulted ? a.Task.Exception!.InnerException : "did not end within 60 s")}");
            Assert.Fail("after the soak: " + string.Join("\n", failures));
        }

        // Leave the kept topic and channel running, then every acknowledged message must arrive.
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/unpause?topic={kept}")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/unpause?topic={kept}&channel=verify")).Status);
        try
        {
            await verifier.WaitAsync(TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            var missing = acked.Keys.Where(k => !seen.ContainsKey(k)).ToList();
            Assert.Fail($"after 120 s, {missing.Count} of {acked.Count} acknowledged messages were still not delivered " +
                $"(e.g. {string.Join(", ", missing.Take(5))}); channel: {await nsqd.ChannelStatsAsync(kept, "verify")}");
        }

        output.WriteLine($"{seconds} s: {acked.Count} acknowledged on the kept topic, {seen.Count} distinct delivered, " +
            $"{stats.Deliveries} deliveries in all, {stats.ChurnPublished} churn publishes, {stats.Operations} operator actions, " +
            $"{stats.Reconnects} consumer reconnects; max RSS {maxRss >> 20} MiB");
        var lost = acked.Keys.Where(k => !seen.ContainsKey(k)).Take(5).ToList();
        Assert.True(lost.Count == 0, $"acknowledged but never delivered: {string.Join(", ", lost)}");
        Assert.True(acked.Count > 1000, $"only {acked.Count} messages were acknowledged: the load did not run");
        Assert.True(stats.Operations > 100, $"only {stats.Operations} operator actions ran");
        Assert.True(maxRss < MaxRssBytes, $"RSS reached {maxRss >> 20} MiB (bound {MaxRssBytes >> 20} MiB)");
    }

    private sealed class SoakStats
    {
        private long _deliveries;
        private long _churnPublished;
        private long _operations;
        private long _reconnects;

        public long Deliveries => Interlocked.Read(ref _deliveries);
        public long ChurnPublished => Interlocked.Read(ref _churnPublished);
        public long Operations => Interlocked.Read(ref _operations);
        public long Reconnects => Interlocked.Read(ref _reconnects);

        public void Delivered() => Interlocked.Increment(ref _deliveries);
        public void Published() => Interlocked.Increment(ref _churnPublished);
        public void Operated() => Interlocked.Increment(ref _operations);
        public void Reconnected() => Interlocked.Increment(ref _reconnects);
    }

    /// <summary>PUB and MPUB with unique bodies; an OK adds them to acked. Any failure on the kept topic fails the soak.</summary>
    private static async Task PublishKeptAsync(NsqdInstance nsqd, string topic, int publisher, ConcurrentDictionary<string, bool> acked, SoakStats stats, CancellationToken ct)
    {
        var random = new Random(publisher);
        await using var conn = await nsqd.ConnectIdentifiedAsync();
        var seq = 0;
        while (!ct.IsCancellationRequested)
        {
            if (random.Next(4) == 0)
            {
                var batch = Enumerable.Range(0, 1 + random.Next(20)).Select(_ => Body(publisher, seq++, random)).ToList();
                await conn.MultiPublishAsync(topic, batch.Select(b => b.Bytes).ToList());
                await conn.ExpectResponseAsync("OK");
                foreach (var b in batch)
                {
                    acked[b.Key] = true;
                }
            }
            else
            {
                var b = Body(publisher, seq++, random);
                await conn.SendAsync("PUB " + topic, b.Bytes);
                await conn.ExpectResponseAsync("OK");
                acked[b.Key] = true;
            }
        }
    }

    private static (string Key, byte[] Bytes) Body(int publisher, int seq, Random random)
    {
        var key = $"p{publisher}-{seq}";
        var bytes = new byte[key.Length + 1 + random.Next(2000)];
        Encoding.ASCII.GetBytes(key + " ", bytes);
        return (key, bytes);
    }

    /// <summary>Publishes to a churn topic, reconnecting whenever the topic's deletion closes or fails the connection.</summary>
    private static async Task PublishChurnAsync(NsqdInstance nsqd, string topic, SoakStats stats, CancellationToken ct)
    {
        var body = new byte[300];
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var conn = await nsqd.ConnectIdentifiedAsync();
                while (!ct.IsCancellationRequested)
                {
                    await conn.SendAsync("PUB " + topic, body);
                    var frame = await conn.ReadSkippingHeartbeatsAsync();
                    if (frame.Type != FrameType.Response)
                    {
                        break; // e.g. E_PUB_FAILED while the topic was being deleted: reconnect
                    }

                    stats.Published();
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or TimeoutException or System.Net.Sockets.SocketException)
            {
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>
    /// Subscribes with RDY 50 and FINs everything, recording bodies' keys into seen (when given). A channel or
    /// topic deletion closes the connection: it reconnects. Ends when stopWhen() holds.
    /// </summary>
    private static async Task ConsumeAsync(NsqdInstance nsqd, string topic, string channel, ConcurrentDictionary<string, bool>? seen,
        SoakStats stats, CancellationToken ct, Func<bool> stopWhen)
    {
        while (!stopWhen())
        {
            try
            {
                await using var conn = await nsqd.ConnectIdentifiedAsync();
                await conn.SendAsync($"SUB {topic} {channel}");
                var ok = await conn.ReadSkippingHeartbeatsAsync();
                if (ok.Type != FrameType.Response)
                {
                    throw new IOException($"SUB answered {ok}");
                }

                await conn.SendAsync("RDY 50");
                while (!stopWhen())
                {
                    Frame frame;
                    try
                    {
                        frame = await conn.ReadSkippingHeartbeatsAsync(TimeSpan.FromMilliseconds(500));
                    }
                    catch (TimeoutException)
                    {
                        continue;
                    }

                    if (frame.Type != FrameType.Message)
                    {
                        continue; // a FIN error after a channel empty, say
                    }

                    var m = NsqMessage.Decode(frame.Data);
                    if (seen != null)
                    {
                        var text = Encoding.ASCII.GetString(m.Body, 0, Math.Min(m.Body.Length, 32));
                        seen[text[..text.IndexOf(' ', StringComparison.Ordinal)]] = true;
                    }

                    stats.Delivered();
                    await conn.SendAsync("FIN " + m.Id);
                }

                return;
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or TimeoutException or System.Net.Sockets.SocketException)
            {
                stats.Reconnected();
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }

    private static async Task OperateAsync(NsqdInstance nsqd, string kept, string[] churn, SoakStats stats, CancellationToken ct)
    {
        var random = new Random(42);
        var auxChannels = 0;
        while (!ct.IsCancellationRequested)
        {
            string action;
            if (random.Next(3) == 0)
            {
                // The kept topic: nothing here may lose an acknowledged message for channel "verify".
                // A seek of "verify" is only ever backwards (to the oldest message: a full replay, so rare); side
                // channels seek anywhere.
                action = random.Next(100) == 0
                    ? $"/channel/seek?topic={kept}&channel=verify&to=oldest"
                    : random.Next(8) switch
                    {
                        0 => $"/topic/pause?topic={kept}",
                        1 => $"/topic/unpause?topic={kept}",
                        2 => $"/channel/pause?topic={kept}&channel=verify",
                        3 => $"/channel/unpause?topic={kept}&channel=verify",
                        4 => $"/channel/seek?topic={kept}&channel=aux{random.Next(4)}&to=timestamp&value={DateTimeOffset.UtcNow.AddSeconds(-2).ToUnixTimeMilliseconds()}",
                        5 => $"/channel/create?topic={kept}&channel=aux{auxChannels++ % 4}",
                        6 => $"/channel/empty?topic={kept}&channel=aux{random.Next(4)}",
                        _ => $"/channel/delete?topic={kept}&channel=aux{random.Next(4)}",
                    };
            }
            else
            {
                var t = churn[random.Next(churn.Length)];
                action = random.Next(12) switch
                {
                    0 => $"/topic/delete?topic={t}",
                    1 => $"/topic/create?topic={t}",
                    2 => $"/topic/pause?topic={t}",
                    3 => $"/topic/unpause?topic={t}",
                    4 => $"/topic/empty?topic={t}",
                    5 => $"/channel/create?topic={t}&channel=ch",
                    6 => $"/channel/delete?topic={t}&channel=ch",
                    7 => $"/channel/empty?topic={t}&channel=ch",
                    8 => $"/channel/pause?topic={t}&channel=ch",
                    9 => $"/channel/unpause?topic={t}&channel=ch",
                    10 => $"/channel/seek?topic={t}&channel=ch&to=oldest",
                    _ => $"/channel/seek?topic={t}&channel=ch&to=newest",
                };
            }

            var reply = await nsqd.PostAsync(action);
            Assert.True(reply.Status is 200 or 404, $"POST {action} answered {reply.Status} {reply.Body}");
            stats.Operated();
            await Task.Delay(random.Next(5, 60), CancellationToken.None);
        }
    }
}
