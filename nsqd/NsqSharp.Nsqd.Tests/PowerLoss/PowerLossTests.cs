using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Nsqd.Tests.PowerLoss;

/// <summary>
/// The power-loss tests run alone: their filesystem, nsqd and five flat-out producers saturate a small machine, which
/// would squeeze the timing-sensitive tests running beside them (and their own time bounds).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PowerLossCollection
{
    public const string Name = "power loss";
}

/// <summary>
/// Acknowledged means durable, even across a power cut (a kill -9 cannot show a missing fsync: the page cache
/// survives the process). nsqd runs with its data path on a <see cref="PowerLossDisk"/>; producers publish with acks
/// (TCP PUB and MPUB, HTTP /pub and /mpub) and every acknowledged message is recorded; the power is cut at a random
/// moment while they publish, nsqd is SIGKILLed, and the next round starts nsqd on what survived. After the last round
/// a consumer drains a channel: every acknowledged message must be there, and everything there must be a message some
/// producer sent, byte for byte. The same scenario with acknowledgement before fsync (--sync-every) must lose
/// acknowledged messages, which shows the test can fail.
/// </summary>
[Collection(PowerLossCollection.Name)]
public sealed class PowerLossTests(ITestOutputHelper output)
{
    private const string Topic = "powerloss";
    private const string ChannelName = "drain";
    private const int Rounds = 3;

    // Per round: the cut comes only after this many acknowledgements (plus a random delay), so every round has
    // acknowledged messages at stake.
    private const int AcksBeforeCut = 300;

    /// <summary>The filesystem itself: only what was fsynced (contents by the file, names by the directory) survives.</summary>
    [PowerLossFact(Timeout = 60_000)]
    public async Task FilesystemKeepsOnlyWhatWasFsynced()
    {

        await Task.Run(CheckFilesystemModel); // blocking file I/O on the mount, bounded by the test's timeout
    }

    private void CheckFilesystemModel()
    {
        using var temp = new TempDirectory("powerloss");
        string backing = Path.Combine(temp.Path, "backing");
        string mnt = Path.Combine(temp.Path, "mnt");
        string d = Path.Combine(mnt, "d");
        using (var disk = PowerLossDisk.Mount(backing, mnt))
        {
            // Durable: each file fsynced (but "empty"), then the directories.
            Directory.CreateDirectory(d);
            NativeFile.FlushDirectory(mnt);
            Write(Path.Combine(d, "contents"), "old", fsync: true);
            Write(Path.Combine(d, "replaced"), "v1", fsync: true);
            Write(Path.Combine(d, "truncated"), "0123456789", fsync: true);
            Write(Path.Combine(d, "empty"), "never fsynced", fsync: false);
            NativeFile.FlushDirectory(d);

            // Pending: none of this is followed by the fsync that would make it durable.
            Write(Path.Combine(d, "contents"), "new, never fsynced", fsync: false);
            Write(Path.Combine(d, "unnamed"), "fsynced, its directory not", fsync: true);
            Write(Path.Combine(d, "replaced.tmp"), "v2", fsync: true);
            File.Move(Path.Combine(d, "replaced.tmp"), Path.Combine(d, "replaced"), overwrite: true);
            using (var handle = File.OpenHandle(Path.Combine(d, "truncated"), FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.SetLength(handle, 3);
            }

            Directory.CreateDirectory(Path.Combine(mnt, "newdir"));
            Write(Path.Combine(mnt, "newdir", "f"), "x", fsync: true);
            NativeFile.FlushDirectory(Path.Combine(mnt, "newdir")); // its own parent is never fsynced

            // The live view has it all.
            Assert.Equal("new, never fsynced", File.ReadAllText(Path.Combine(d, "contents")));
            Assert.Equal("v2", File.ReadAllText(Path.Combine(d, "replaced")));
            Assert.Equal(3, new FileInfo(Path.Combine(d, "truncated")).Length);
            Assert.True(File.Exists(Path.Combine(mnt, "newdir", "f")));
            output.WriteLine(disk.CutPower());
            Assert.ThrowsAny<IOException>(() => File.ReadAllText(Path.Combine(d, "contents"))); // the machine is off
        }

        using (var disk = PowerLossDisk.Mount(backing, mnt))
        {
            Assert.Equal("old", File.ReadAllText(Path.Combine(d, "contents")));
            Assert.Equal("", File.ReadAllText(Path.Combine(d, "empty")));
            Assert.Equal("v1", File.ReadAllText(Path.Combine(d, "replaced")));
            Assert.Equal("0123456789", File.ReadAllText(Path.Combine(d, "truncated")));
            Assert.Equal(["contents", "empty", "replaced", "truncated"], Directory.GetFiles(d).Select(Path.GetFileName).Order());
            Assert.False(Directory.Exists(Path.Combine(mnt, "newdir")));

            // nsqd's way (AtomicFile): fsync the new file, rename it over the old one, fsync the directory.
            Write(Path.Combine(d, "replaced.tmp"), "v3", fsync: true);
            File.Move(Path.Combine(d, "replaced.tmp"), Path.Combine(d, "replaced"), overwrite: true);
            File.Delete(Path.Combine(d, "empty"));
            NativeFile.FlushDirectory(d);
            disk.CutPower();
        }

        // The backing directory holds the durable state as a plain tree.
        string tree = Path.Combine(backing, "tree", "d");
        Assert.Equal("v3", File.ReadAllText(Path.Combine(tree, "replaced")));
        Assert.Equal(["contents", "replaced", "truncated"], Directory.GetFiles(tree).Select(Path.GetFileName).Order());
    }

    [PowerLossFact(Timeout = 150_000)]
    public async Task EveryAcknowledgedMessageSurvivesPowerCuts()
    {

        var outcome = await RunScenarioAsync([]);
        var missing = outcome.Acked.Keys.Where(k => !outcome.Received.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} of {outcome.Acked.Count} acknowledged messages lost in power cuts, e.g. {string.Join(", ", missing.Take(5).Select(Id))}");
    }

    /// <summary>
    /// The proof that the scenario bites: with --sync-every (upstream's relaxed mode: acknowledge after the write,
    /// fsync every N messages or --sync-timeout) set so that no fsync comes during the test, the acknowledged
    /// messages of every round are in the page cache only when the power goes, and are lost.
    /// </summary>
    [PowerLossFact(Timeout = 150_000)]
    public async Task AcknowledgingBeforeFsyncLosesAcknowledgedMessages()
    {

        var outcome = await RunScenarioAsync(["--sync-every=100000000", "--sync-timeout=1h"]);
        int lost = outcome.Acked.Keys.Count(k => !outcome.Received.ContainsKey(k));
        output.WriteLine($"ack before fsync: {lost} of {outcome.Acked.Count} acknowledged messages lost");
        Assert.All(outcome.Cuts, cut => Assert.True(PowerLossDisk.DirtyPages(cut) > 0, $"nothing was pending at the cut: {cut}"));
        Assert.True(lost >= Rounds * AcksBeforeCut,
            $"acknowledging before fsync should lose at least the {AcksBeforeCut} acknowledgements before each of the {Rounds} cuts; lost {lost} of {outcome.Acked.Count}");
    }

    /// <summary>
    /// /topic/delete and /channel/delete answer once their effect is durable: a topic directory or a cursor file that
    /// came back after a power cut would bring the topic or channel back (they are restored from the directory).
    /// </summary>
    [PowerLossFact(Timeout = 60_000)]
    public async Task DeletedTopicsAndChannelsStayDeletedAfterPowerCut()
    {

        using var temp = new TempDirectory("powerloss");
        string backing = Path.Combine(temp.Path, "backing");
        string mnt = Path.Combine(temp.Path, "mnt");
        string dataPath = Path.Combine(mnt, "nsqd");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        NsqdProcess? nsqd = null;
        try
        {
            using (var disk = PowerLossDisk.Mount(backing, mnt))
            {
                try
                {
                    nsqd = await NsqdProcess.StartOnDataPathAsync(dataPath, []);
                    foreach (string call in (string[])["/topic/create?topic=gone", "/pub?topic=gone", "/topic/create?topic=kept",
                        "/channel/create?topic=kept&channel=gone", "/channel/create?topic=kept&channel=kept", "/pub?topic=kept"])
                    {
                        (await http.PostAsync(nsqd.HttpBase + call, new StringContent("m"))).EnsureSuccessStatusCode();
                    }

                    // Both are on the disk for good (the cursor files are checkpointed in the background) ...
                    string durable = Path.Combine(disk.DurableTree, "nsqd", "topics");
                    await Wait.UntilAsync(() => Directory.Exists(Path.Combine(durable, "gone")) && File.Exists(Path.Combine(durable, "kept", "channels", "gone.cursor")),
                        TimeSpan.FromSeconds(15), "topic gone and channel kept/gone durable");

                    // ... until deleted: the replies come once the deletes are durable too.
                    (await http.PostAsync(nsqd.HttpBase + "/topic/delete?topic=gone", null)).EnsureSuccessStatusCode();
                    (await http.PostAsync(nsqd.HttpBase + "/channel/delete?topic=kept&channel=gone", null)).EnsureSuccessStatusCode();
                    output.WriteLine(disk.CutPower());
                }
                finally
                {
                    nsqd?.Kill9();
                }
            }

            using (var disk = PowerLossDisk.Mount(backing, mnt))
            {
                try
                {
                    await nsqd!.RestartAsync();
                    string stats = await http.GetStringAsync(nsqd.HttpBase + "/stats?format=json");
                    using var doc = System.Text.Json.JsonDocument.Parse(stats);
                    var topics = doc.RootElement.GetProperty("topics").EnumerateArray().ToDictionary(
                        t => t.GetProperty("topic_name").GetString()!,
                        t => t.GetProperty("channels").EnumerateArray().Select(c => c.GetProperty("channel_name").GetString()!).Order().ToList());
                    Assert.Equal(["kept"], topics.Keys);
                    Assert.Equal(["kept"], topics["kept"]);
                }
                finally
                {
                    nsqd?.Kill9();
                }
            }
        }
        finally
        {
            nsqd?.Dispose();
        }
    }

    private sealed record Outcome(
        ConcurrentDictionary<string, byte> Acked,
        ConcurrentDictionary<string, int> Received,
        List<string> Cuts);

    /// <summary>
    /// Rounds of publish-then-cut on one backing directory, then a drain on a fresh mount of what survived. Asserts
    /// what holds in every mode: nothing delivered that no producer sent, nothing delivered twice.
    /// </summary>
    private async Task<Outcome> RunScenarioAsync(string[] nsqdArgs)
    {
        int seed = Environment.GetEnvironmentVariable("NSQSHARP_POWER_LOSS_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Environment.TickCount;
        output.WriteLine($"seed {seed} (NSQSHARP_POWER_LOSS_SEED)");
        var random = new Random(seed);
        using var temp = new TempDirectory("powerloss");
        string backing = Path.Combine(temp.Path, "backing");
        string mnt = Path.Combine(temp.Path, "mnt");

        // nsqd creates its data directory (and everything under it) on the mount: its creation must be durable too.
        string dataPath = Path.Combine(mnt, "nsqd");
        var sent = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var acked = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var cuts = new List<string>();
        NsqdProcess? nsqd = null;
        var clock = Stopwatch.StartNew();
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                using var disk = PowerLossDisk.Mount(backing, mnt);
                try
                {
                    if (nsqd is null)
                    {
                        nsqd = await NsqdProcess.StartOnDataPathAsync(dataPath, nsqdArgs);
                    }
                    else
                    {
                        await nsqd.RestartAsync();
                    }

                    int ackedBefore = acked.Count;
                    using var stop = new CancellationTokenSource();
                    using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                    var errors = new ConcurrentQueue<string>();
                    var producers = new List<Task>
                    {
                        TcpProducerAsync(nsqd.TcpPort, $"r{round}-pub1", 1, sent, acked, errors, stop.Token),
                        TcpProducerAsync(nsqd.TcpPort, $"r{round}-pub2", 1, sent, acked, errors, stop.Token),
                        TcpProducerAsync(nsqd.TcpPort, $"r{round}-mpub", 25, sent, acked, errors, stop.Token),
                        HttpProducerAsync(http, nsqd.HttpBase, $"r{round}-http", 1, sent, acked, errors, stop.Token),
                        HttpProducerAsync(http, nsqd.HttpBase, $"r{round}-hmpub", 10, sent, acked, errors, stop.Token),
                    };

                    var deadline = Stopwatch.StartNew();
                    while (acked.Count - ackedBefore < AcksBeforeCut)
                    {
                        if (deadline.Elapsed > TimeSpan.FromSeconds(30) || producers.All(p => p.IsCompleted))
                        {
                            throw new InvalidOperationException(
                                $"round {round}: only {acked.Count - ackedBefore} acknowledgements before the cut; producer errors: {string.Join(" | ", errors)}\n{nsqd.Output}\n{disk.Errors}");
                        }

                        await Task.Delay(10);
                    }

                    await Task.Delay(random.Next(0, 400));
                    int ackedAtCut = acked.Count - ackedBefore;
                    string cut = disk.CutPower();
                    cuts.Add(cut);
                    nsqd.Kill9();
                    await stop.CancelAsync();
                    await Task.WhenAll(producers);
                    output.WriteLine($"round {round} at {clock.ElapsedMilliseconds} ms: {ackedAtCut} acknowledged before the {cut}, " +
                        $"{acked.Count - ackedBefore} in all; first producer errors after the cut: {string.Join(" | ", errors.Take(3))}");
                    Assert.True(string.IsNullOrWhiteSpace(disk.Errors), $"powerloss_fs reported errors: {disk.Errors}");
                }
                finally
                {
                    nsqd?.Kill9(); // before the unmount: a busy mount cannot be unmounted
                }
            }

            // Power back on: nsqd recovers from what survived and a new channel (the topic never had one, so it starts
            // at the oldest message) delivers everything the log holds.
            using (var disk = PowerLossDisk.Mount(backing, mnt))
            {
                try
                {
                    await nsqd!.RestartAsync();
                    var received = await DrainAsync(nsqd);
                    output.WriteLine($"drained {received.Count} messages at {clock.ElapsedMilliseconds} ms; {acked.Count} acknowledged, {sent.Count} sent");
                    var foreign = received.Keys.Where(k => !sent.ContainsKey(k)).Take(3).ToList();
                    Assert.True(foreign.Count == 0, $"delivered messages no producer sent (corrupt?): {string.Join(", ", foreign.Select(f => f.Length > 80 ? f[..80] + "..." : f))}");
                    var twice = received.Where(kv => kv.Value > 1).Select(kv => kv.Key).Take(3).ToList();
                    Assert.True(twice.Count == 0, $"messages stored more than once: {string.Join(", ", twice.Select(Id))}");
                    Assert.True(string.IsNullOrWhiteSpace(disk.Errors), $"powerloss_fs reported errors: {disk.Errors}");
                    return new Outcome(acked, received, cuts);
                }
                finally
                {
                    nsqd?.Dispose();
                    nsqd = null;
                }
            }
        }
        finally
        {
            nsqd?.Dispose();
        }
    }

    /// <summary>The producer-seq part of a body.</summary>
    private static string Id(string body) => body.Split(':')[0];

    /// <summary>A body that names itself and whose length varies (crossing page boundaries at different points).</summary>
    private static string Body(string producer, int seq)
    {
        string id = $"{producer}-{seq}:";
        int length = 16 + ((seq * 7919) % 1500);
        var body = new StringBuilder(id, id.Length + length);
        for (int i = 0; body.Length < id.Length + length; i++)
        {
            body.Append((char)('a' + ((seq + i) % 26)));
        }

        return body.ToString();
    }

    /// <summary>Publishes until stopped or refused; records what was sent before sending it, and what was acknowledged.</summary>
    private static async Task TcpProducerAsync(int port, string producer, int batch, ConcurrentDictionary<string, byte> sent,
        ConcurrentDictionary<string, byte> acked, ConcurrentQueue<string> errors, CancellationToken stop)
    {
        try
        {
            await using var conn = await RawConnection.ConnectAsync(port);
            for (int seq = 0; !stop.IsCancellationRequested; seq += batch)
            {
                var bodies = Enumerable.Range(seq, batch).Select(i => Body(producer, i)).ToList();
                foreach (string b in bodies)
                {
                    sent[b] = 0;
                }

                if (batch == 1)
                {
                    await conn.PublishAsync(Topic, bodies[0]);
                }
                else
                {
                    await conn.MultiPublishAsync(Topic, bodies.Select(Encoding.ASCII.GetBytes).ToList());
                }

                var frame = await conn.ReadSkippingHeartbeatsAsync(TimeSpan.FromSeconds(10));
                if (frame.Type != FrameType.Response || frame.Text != "OK")
                {
                    errors.Enqueue($"{producer}: {frame}");
                    return;
                }

                foreach (string b in bodies)
                {
                    acked[b] = 0;
                }
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or EndOfStreamException or TimeoutException or InvalidDataException)
        {
            errors.Enqueue($"{producer}: {e.GetType().Name}: {e.Message}"); // nsqd died under us: the unanswered may or may not be stored
        }
    }

    private static async Task HttpProducerAsync(HttpClient http, string baseUrl, string producer, int batch, ConcurrentDictionary<string, byte> sent,
        ConcurrentDictionary<string, byte> acked, ConcurrentQueue<string> errors, CancellationToken stop)
    {
        try
        {
            for (int seq = 0; !stop.IsCancellationRequested; seq += batch)
            {
                var bodies = Enumerable.Range(seq, batch).Select(i => Body(producer, i)).ToList();
                foreach (string b in bodies)
                {
                    sent[b] = 0;
                }

                string path = batch == 1 ? "/pub" : "/mpub";
                using var content = new ByteArrayContent(Encoding.ASCII.GetBytes(string.Join('\n', bodies)));
                using var response = await http.PostAsync($"{baseUrl}{path}?topic={Topic}", content, CancellationToken.None);
                string text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                if (!response.IsSuccessStatusCode || text != "OK")
                {
                    errors.Enqueue($"{producer}: {(int)response.StatusCode} {text}");
                    return;
                }

                foreach (string b in bodies)
                {
                    acked[b] = 0;
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            errors.Enqueue($"{producer}: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Consumes (and FINs) until the channel is empty: nothing in flight, depth 0. Counts each body.</summary>
    private static async Task<ConcurrentDictionary<string, int>> DrainAsync(NsqdProcess nsqd)
    {
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await using var conn = await RawConnection.ConnectAsync(nsqd.TcpPort);
        await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes("{\"heartbeat_interval\":1000}"));
        Assert.Equal("OK", (await conn.ReadFrameAsync()).Text);
        await conn.SendAsync($"SUB {Topic} {ChannelName}");
        Assert.Equal("OK", (await conn.ReadSkippingHeartbeatsAsync()).Text);
        await conn.SendAsync("RDY 1000");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Frame frame;
            try
            {
                frame = await conn.ReadSkippingHeartbeatsAsync(TimeSpan.FromMilliseconds(500));
            }
            catch (TimeoutException)
            {
                if (await ChannelEmptyAsync(http, nsqd.HttpBase))
                {
                    return received;
                }

                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"drain did not finish; {received.Count} received");
                continue;
            }

            Assert.Equal(FrameType.Message, frame.Type);
            var message = NsqMessage.Decode(frame.Data);
            received.AddOrUpdate(message.BodyText, 1, (_, n) => n + 1);
            await conn.SendAsync("FIN " + message.Id);
        }
    }

    private static async Task<bool> ChannelEmptyAsync(HttpClient http, string baseUrl)
    {
        string json = await http.GetStringAsync($"{baseUrl}/stats?format=json&topic={Topic}&channel={ChannelName}");
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        foreach (var topic in doc.RootElement.GetProperty("topics").EnumerateArray())
        {
            foreach (var channel in topic.GetProperty("channels").EnumerateArray())
            {
                if (channel.GetProperty("channel_name").GetString() == ChannelName)
                {
                    return channel.GetProperty("depth").GetInt64() == 0 && channel.GetProperty("in_flight_count").GetInt64() == 0;
                }
            }
        }

        return false;
    }

    private static void Write(string path, string text, bool fsync)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        RandomAccess.Write(handle, Encoding.UTF8.GetBytes(text), 0);
        if (fsync)
        {
            NativeFile.FlushData(handle);
        }
    }
}
