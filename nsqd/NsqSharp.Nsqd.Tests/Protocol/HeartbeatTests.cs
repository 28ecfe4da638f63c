using System.Diagnostics;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Heartbeats and client timeouts against an nsqd with --client-timeout=2s (default heartbeat every
/// second, read deadline two intervals): TestClientHeartbeat, TestClientTimeout.
/// </summary>
public sealed class HeartbeatTests(HeartbeatNsqdFixture fixture) : IClassFixture<HeartbeatNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task HeartbeatsArriveAtHalfTheClientTimeout()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var watch = Stopwatch.StartNew(); // IDENTIFY restarts the heartbeat timer
        await conn.NegotiateAsync();
        await Heartbeats.ExpectAsync(conn, TimeSpan.FromSeconds(5));
        Assert.True(watch.ElapsedMilliseconds >= 950, $"first heartbeat after {watch.ElapsedMilliseconds}ms");
        await conn.SendAsync("NOP");

        // ~3 in 3.5s at 1000ms (a 500ms interval would give 7)
        Assert.InRange(await Heartbeats.CountAsync(conn, TimeSpan.FromMilliseconds(3500)), 2, 4);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnsweringHeartbeatsKeepsTheConnectionAlive()
    {
        // upstream TestClientHeartbeat, for several intervals
        var topic = Names.Unique("hb");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        var count = await Heartbeats.CountAsync(conn, TimeSpan.FromMilliseconds(4500));
        Assert.True(count >= 3, $"{count} heartbeats in 4.5s");
        await Nsqd.PublishAsync(topic, "still subscribed");
        var frame = await conn.ReadSkippingHeartbeatsAsync();
        Assert.Equal(FrameType.Message, frame.Type);
    }

    [Fact(Timeout = 30_000)]
    public async Task SilentClientsAreDisconnectedAfterTwoMissedHeartbeats()
    {
        // upstream TestClientTimeout
        await using var conn = await Nsqd.ConnectIdentifiedAsync();
        var watch = Stopwatch.StartNew(); // before our last command, so client-side delays cannot shorten it
        await conn.SendAsync($"SUB {Names.Unique("silent")} ch");
        await conn.ExpectResponseAsync("OK");
        await conn.ExpectClosedAsync(TimeSpan.FromSeconds(10));
        Assert.True(watch.ElapsedMilliseconds >= 1900, $"disconnected {watch.ElapsedMilliseconds}ms after the last command");
    }

    [Fact(Timeout = 30_000)]
    public async Task HeartbeatsStartBeforeIdentify()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await Heartbeats.ExpectAsync(conn, TimeSpan.FromSeconds(5));
    }
}

/// <summary>Negotiated heartbeat intervals (TestClientHeartbeatDisable, TestClientHeartbeatDisableSUB).</summary>
public sealed class HeartbeatNegotiationTests(HeartbeatNsqdFixture fixture) : IClassFixture<HeartbeatNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    [Fact(Timeout = 30_000)]
    public async Task DisabledHeartbeatsMeanNoHeartbeatsAndNoTimeout()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(new Dictionary<string, object?> { ["heartbeat_interval"] = -1 }, featureNegotiation: false);
        Assert.Equal("OK", frame.Text);
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(2500)); // longer than the 2s default deadline
        await conn.PublishAsync(Names.Unique("nohb"), "still here");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {Names.Unique("nohb")} ch");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB with heartbeats disabled");
    }

    [Fact(Timeout = 30_000)]
    public async Task NegotiatedHeartbeatIntervalIsUsed()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.NegotiateAsync(new Dictionary<string, object?> { ["heartbeat_interval"] = 2000 });

        // ~2 heartbeats in 4.5s at 2000ms (the default 1000ms would give 4). A NOP every 500 ms keeps the read
        // deadline (2 × 2000ms) fresh, so the connection stays open however late this test's thread runs under
        // load (answering each heartbeat left only a 2 s margin: a CI run lost the connection).
        using var stop = new CancellationTokenSource();
        var keepAlive = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await conn.SendAsync("NOP");
                await Task.Delay(500, CancellationToken.None);
            }
        });
        var count = await Heartbeats.CountAsync(conn, TimeSpan.FromMilliseconds(4500), answer: false);
        await stop.CancelAsync();
        await keepAlive;
        Assert.InRange(count, 1, 3);
        await conn.PublishAsync(Names.Unique("hb2000"), "alive");
        await conn.ExpectResponseAsync("OK");
    }

    [Fact(Timeout = 30_000)]
    public async Task DeflateIsNotNegotiatedWhenDisabled()
    {
        await using var conn = await Nsqd.ConnectAsync();
        var json = await conn.NegotiateAsync(new Dictionary<string, object?> { ["deflate"] = true, ["heartbeat_interval"] = 5000 });
        Assert.False(json.GetProperty("deflate").GetBoolean());
        await conn.PublishAsync(Names.Unique("nodeflate"), "plain");
        await conn.ExpectResponseAsync("OK");
    }
}

internal static class Heartbeats
{
    public static async Task ExpectAsync(RawConnection conn, TimeSpan within)
    {
        var frame = await conn.ReadFrameAsync(within);
        Assert.Equal(FrameType.Response, frame.Type);
        Assert.Equal("_heartbeat_", frame.Text);
    }

    /// <summary>Counts heartbeats (answering each with NOP unless told not to) during the given time.</summary>
    public static async Task<int> CountAsync(RawConnection conn, TimeSpan during, bool answer = true)
    {
        var watch = Stopwatch.StartNew();
        var count = 0;
        while (watch.Elapsed < during)
        {
            try
            {
                await ExpectAsync(conn, during - watch.Elapsed);
                count++;
                if (answer)
                {
                    await conn.SendAsync("NOP");
                }
            }
            catch (TimeoutException)
            {
                break;
            }
        }

        return count;
    }
}
