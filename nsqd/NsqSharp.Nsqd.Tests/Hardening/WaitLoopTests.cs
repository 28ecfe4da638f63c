using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Hardening;

/// <summary>
/// Every broker wait loop must sleep when it cannot make progress. A loop that spins burns a core and, if each
/// turn registers a continuation, leaks memory until the process dies (a paused topic with a channel did both:
/// ~300 MB/s). Each test leaves the broker in one "blocked with data waiting" state and checks, over a few
/// seconds of the real process, that it uses neither CPU nor memory; then that it recovers when unblocked.
/// </summary>
public sealed class WaitLoopTests
{
    private const int T = 120_000;

    // A spinning loop takes a whole core and leaks hundreds of MB a second; an idle broker uses a few percent.
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(3);
    private const double MaxCpuShare = 0.25;
    private const long MaxRssGrowthBytes = 64L << 20;

    [Fact(Timeout = T)]
    public async Task PausedTopicWithChannelAndBacklogStaysIdle()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("paused");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}")).Status);
        var created = await nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch");
        Assert.True(created.Status == 200, created.Body);
        var paused = await nsqd.PostAsync($"/topic/pause?topic={topic}");
        Assert.True(paused.Status == 200, paused.Body);
        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            for (var i = 0; i < 500; i++)
            {
                await pub.PublishAsync(topic, $"m{i}");
                await pub.ExpectResponseAsync("OK");
            }
        }

        await AssertIdleAsync(nsqd, "paused topic with a backlog");

        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 100");
        await sub.ExpectNothingAsync(TimeSpan.FromMilliseconds(300)); // still paused
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/unpause?topic={topic}")).Status);
        await ConsumeAsync(sub, 500);
    }

    [Fact(Timeout = T)]
    public async Task PausedChannelWithReadyClientStaysIdle()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("chpause");
        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/pause?topic={topic}&channel=ch")).Status);
        await sub.SendAsync("RDY 100");
        for (var i = 0; i < 200; i++)
        {
            await nsqd.PublishAsync(topic, $"m{i}");
        }

        await AssertIdleAsync(nsqd, "paused channel with a ready client");

        Assert.Equal(200, (await nsqd.PostAsync($"/channel/unpause?topic={topic}&channel=ch")).Status);
        await ConsumeAsync(sub, 200);
    }

    [Fact(Timeout = T)]
    public async Task ChannelAtItsPendingLimitStaysIdle()
    {
        // The fill loop stops reading ahead at --max-pending-per-channel; with more data in the log it used to spin.
        await using var nsqd = await NsqdInstance.StartAsync(["--max-pending-per-channel=20"]);
        var topic = Names.Unique("pending");
        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            await pub.MultiPublishAsync(topic, Enumerable.Range(0, 200).Select(i => System.Text.Encoding.UTF8.GetBytes($"m{i}")).ToList());
            await pub.ExpectResponseAsync("OK");
        }

        await sub.SendAsync("RDY 50");
        var held = new List<NsqMessage>();
        for (var i = 0; i < 20; i++)
        {
            held.Add(await sub.ExpectMessageAsync());
        }

        await sub.ExpectNothingAsync(TimeSpan.FromMilliseconds(300)); // 20 pending: no more read ahead
        await AssertIdleAsync(nsqd, "channel at its pending limit with a backlog");

        // Finishing reopens the read-ahead: everything else arrives.
        foreach (var m in held)
        {
            await sub.SendAsync("FIN " + m.Id);
        }

        await ConsumeAsync(sub, 180);
    }

    [Fact(Timeout = T)]
    public async Task IdleSubscribersWithNothingToReadStayIdle()
    {
        // Many ready clients and REQ churn on an otherwise empty topic: every wake-up must be a real one.
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = Names.Unique("idle");
        var subs = new List<RawConnection>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var sub = await nsqd.SubscribeAsync(topic, "ch");
                await sub.SendAsync("RDY 10");
                subs.Add(sub);
            }

            await nsqd.PublishAsync(topic, "one");
            var reads = subs.Select(sub => sub.ExpectMessageAsync(TimeSpan.FromSeconds(10))).ToList();
            var first = await Task.WhenAny(reads);
            var holder = reads.IndexOf(first);
            var message = await first;
            Assert.NotNull(message);
            await AssertIdleAsync(nsqd, "20 ready subscribers with nothing to read");
            await subs[holder].SendAsync("FIN " + message.Id);
        }
        finally
        {
            foreach (var sub in subs)
            {
                await sub.DisposeAsync();
            }
        }
    }

    private static async Task AssertIdleAsync(NsqdInstance nsqd, string state)
    {
        var pid = nsqd.Process.Process.Pid;
        await Task.Delay(500); // let start-up work and the last publishes settle
        var cpuBefore = ProcessResources.CpuTime(pid);
        var rssBefore = ProcessResources.RssBytes(pid);
        var started = DateTime.UtcNow;
        await Task.Delay(Window);
        var elapsed = DateTime.UtcNow - started;
        var cpu = ProcessResources.CpuTime(pid) - cpuBefore;
        var rssGrowth = ProcessResources.RssBytes(pid) - rssBefore;
        Assert.True(cpu.TotalSeconds < MaxCpuShare * elapsed.TotalSeconds,
            $"{state}: nsqd used {cpu.TotalMilliseconds:F0} ms of CPU in {elapsed.TotalMilliseconds:F0} ms (a loop is spinning)");
        Assert.True(rssGrowth < MaxRssGrowthBytes,
            $"{state}: nsqd RSS grew by {rssGrowth >> 20} MiB in {elapsed.TotalMilliseconds:F0} ms (a loop is leaking)");
    }

    private static async Task ConsumeAsync(RawConnection sub, int count)
    {
        var seen = new HashSet<string>();
        while (seen.Count < count)
        {
            var m = await sub.ExpectMessageAsync();
            seen.Add(m.Id);
            await sub.SendAsync("FIN " + m.Id);
        }
    }
}
