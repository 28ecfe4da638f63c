using System.Diagnostics;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// Heartbeats and client timeouts against an nsqd with --client-timeout=1s (default heartbeat every
/// 500ms, read deadline two intervals): TestClientHeartbeat, TestClientTimeout,
/// TestClientHeartbeatDisable(SUB). Deflate is disabled on this nsqd.
/// </summary>
public sealed class HeartbeatTests(HeartbeatNsqdFixture fixture) : IClassFixture<HeartbeatNsqdFixture>
{
    private NsqdInstance Nsqd => fixture.Nsqd;

    private static async Task ExpectHeartbeatAsync(RawConnection conn, TimeSpan within)
    {
        var frame = await conn.ReadFrameAsync(within);
        Assert.Equal(FrameType.Response, frame.Type);
        Assert.Equal("_heartbeat_", frame.Text);
    }

    [Fact(Timeout = 30_000)]
    public async Task HeartbeatsArriveAtHalfTheClientTimeout()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.NegotiateAsync();
        var watch = Stopwatch.StartNew();
        await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
        Assert.True(watch.ElapsedMilliseconds >= 350, $"first heartbeat after {watch.ElapsedMilliseconds}ms");
    }

    [Fact(Timeout = 30_000)]
    public async Task AnsweringHeartbeatsKeepsTheConnectionAlive()
    {
        // upstream TestClientHeartbeat, for several intervals
        var topic = Names.Unique("hb");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await conn.SendAsync("RDY 1");
        var watch = Stopwatch.StartNew();
        var heartbeats = 0;
        while (watch.Elapsed < TimeSpan.FromMilliseconds(2600))
        {
            await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
            heartbeats++;
            await conn.SendAsync("NOP");
        }

        Assert.True(heartbeats >= 4, $"{heartbeats} heartbeats in {watch.ElapsedMilliseconds}ms");
        await Nsqd.PublishAsync(topic, "still subscribed");
        var frame = await conn.ReadSkippingHeartbeatsAsync();
        Assert.Equal(FrameType.Message, frame.Type);
    }

    [Fact(Timeout = 30_000)]
    public async Task SilentClientsAreDisconnectedAfterTwoMissedHeartbeats()
    {
        // upstream TestClientTimeout
        await using var conn = await Nsqd.SubscribeAsync(Names.Unique("silent"), "ch");
        var watch = Stopwatch.StartNew();
        await conn.ExpectClosedAsync(TimeSpan.FromSeconds(5));
        Assert.True(watch.ElapsedMilliseconds >= 700, $"disconnected after {watch.ElapsedMilliseconds}ms");
    }

    [Fact(Timeout = 30_000)]
    public async Task HeartbeatsStartBeforeIdentify()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
    }

    [Fact(Timeout = 30_000)]
    public async Task DisabledHeartbeatsMeanNoHeartbeatsAndNoTimeout()
    {
        // upstream TestClientHeartbeatDisable
        await using var conn = await Nsqd.ConnectAsync();
        var frame = await conn.IdentifyAsync(new Dictionary<string, object?> { ["heartbeat_interval"] = -1 }, featureNegotiation: false);
        Assert.Equal("OK", frame.Text);
        await conn.ExpectNothingAsync(TimeSpan.FromMilliseconds(1500));
        await conn.PublishAsync(Names.Unique("nohb"), "still here");
        await conn.ExpectResponseAsync("OK");
        await conn.SendAsync($"SUB {Names.Unique("nohb")} ch");
        await conn.ExpectFatalAsync("E_INVALID cannot SUB with heartbeats disabled");
    }

    [Fact(Timeout = 30_000)]
    public async Task NegotiatedHeartbeatIntervalIsUsed()
    {
        await using var conn = await Nsqd.ConnectAsync();
        await conn.NegotiateAsync(new Dictionary<string, object?> { ["heartbeat_interval"] = 1000 });
        await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
        await conn.SendAsync("NOP");
        var watch = Stopwatch.StartNew();
        await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
        Assert.True(watch.ElapsedMilliseconds >= 800, $"heartbeats {watch.ElapsedMilliseconds}ms apart with a 1000ms interval");

        // the read deadline follows the interval (2 × 1000ms), longer than the default one (2 × 500ms)
        await conn.SendAsync("NOP");
        await ExpectHeartbeatAsync(conn, TimeSpan.FromSeconds(3));
        await conn.PublishAsync(Names.Unique("hb1000"), "alive");
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
