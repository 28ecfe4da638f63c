using System.Diagnostics;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Durability;

/// <summary>What must survive a restart: deferred due times (upstream issue #1107), channel positions, pause state.</summary>
public sealed class RestartTests
{
    [Fact(Timeout = 60_000)]
    public async Task DeferredPublishKeepsItsDueTimeAcrossGracefulRestart()
    {
        using var nsqd = await NsqdProcess.StartAsync();
        using var http = new HttpClient();
        (await http.PostAsync($"{nsqd.HttpBase}/topic/create?topic=later", null)).EnsureSuccessStatusCode();
        (await http.PostAsync($"{nsqd.HttpBase}/channel/create?topic=later&channel=c", null)).EnsureSuccessStatusCode();
        var clock = Stopwatch.StartNew();
        (await http.PostAsync($"{nsqd.HttpBase}/pub?topic=later&defer=4000", new ByteArrayContent("deferred"u8.ToArray()))).EnsureSuccessStatusCode();
        (await http.PostAsync($"{nsqd.HttpBase}/pub?topic=later", new ByteArrayContent("now"u8.ToArray()))).EnsureSuccessStatusCode();

        Assert.True(nsqd.Process.Terminate(TimeSpan.FromSeconds(10)), "nsqd did not exit on SIGTERM");
        Assert.Equal(0, nsqd.Process.ExitCode);
        await nsqd.RestartAsync();

        await using var conn = await Subscribe(nsqd.TcpPort, "later", "c");
        var first = await Next(conn);
        Assert.Equal("now", first.BodyText);
        await conn.SendAsync("FIN " + first.Id);
        var second = await Next(conn);
        Assert.Equal("deferred", second.BodyText);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(3.9), $"deferred message came after {clock.Elapsed}, before its due time");
    }

    [Fact(Timeout = 60_000)]
    public async Task RequeueDelayAndChannelPositionSurviveSigkillAfterCheckpoint()
    {
        using var nsqd = await NsqdProcess.StartAsync();
        using var http = new HttpClient();
        for (var i = 0; i < 3; i++)
        {
            (await http.PostAsync($"{nsqd.HttpBase}/pub?topic=req", new ByteArrayContent(Encoding.UTF8.GetBytes($"m{i}")))).EnsureSuccessStatusCode();
        }

        var clock = Stopwatch.StartNew();
        await using (var conn = await Subscribe(nsqd.TcpPort, "req", "c"))
        {
            var m0 = await Next(conn);
            await conn.SendAsync("FIN " + m0.Id);
            var m1 = await Next(conn);
            await conn.SendAsync("REQ " + m1.Id + " 5000");
            var m2 = await Next(conn);
            await conn.SendAsync("FIN " + m2.Id);
            Assert.Equal(["m0", "m1", "m2"], new[] { m0, m1, m2 }.Select(f => f.BodyText));
            await conn.SendAsync("NOP");
        }

        // Cursor checkpoints are written every second; wait for one, then crash.
        await WaitForCheckpointAsync(nsqd.DataPath, "req", "c");
        await Task.Delay(1500);
        nsqd.Kill9();
        await nsqd.RestartAsync();

        await using var again = await Subscribe(nsqd.TcpPort, "req", "c");
        var redelivered = await Next(again);
        Assert.Equal("m1", redelivered.BodyText);
        Assert.Equal(2, redelivered.Attempts);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(4.9), $"requeued message came back after {clock.Elapsed}, before its delay");
    }

    [Fact(Timeout = 60_000)]
    public async Task PausedChannelStaysPausedAfterRestart()
    {
        using var nsqd = await NsqdProcess.StartAsync();
        using var http = new HttpClient();
        (await http.PostAsync($"{nsqd.HttpBase}/topic/create?topic=p", null)).EnsureSuccessStatusCode();
        (await http.PostAsync($"{nsqd.HttpBase}/channel/create?topic=p&channel=c", null)).EnsureSuccessStatusCode();
        (await http.PostAsync($"{nsqd.HttpBase}/channel/pause?topic=p&channel=c", null)).EnsureSuccessStatusCode();
        Assert.True(nsqd.Process.Terminate(TimeSpan.FromSeconds(10)));
        await nsqd.RestartAsync();
        var stats = await http.GetStringAsync($"{nsqd.HttpBase}/stats?format=json&topic=p");
        Assert.Contains("\"channel_name\":\"c\"", stats, StringComparison.Ordinal);
        Assert.Contains("\"paused\":true", stats, StringComparison.Ordinal);
    }

    /// <summary>The next message, answering heartbeats meanwhile (a waiting consumer must stay alive).</summary>
    private static async Task<NsqMessage> Next(RawConnection conn)
    {
        var frame = await conn.ReadSkippingHeartbeatsAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(FrameType.Message, frame.Type);
        return NsqMessage.Decode(frame.Data);
    }

    private static async Task WaitForCheckpointAsync(string dataPath, string topic, string channel)
    {
        var path = Path.Combine(dataPath, "topics", topic, "channels", channel + ".cursor");
        for (var i = 0; i < 100 && !File.Exists(path); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(File.Exists(path), "no cursor checkpoint written");
    }

    private static async Task<RawConnection> Subscribe(int port, string topic, string channel)
    {
        var conn = await RawConnection.ConnectAsync(port);
        await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes("{\"heartbeat_interval\":1000}"));
        Assert.Equal("OK", (await conn.ReadFrameAsync()).Text);
        await conn.SendAsync($"SUB {topic} {channel}");
        Assert.Equal("OK", (await conn.ReadSkippingHeartbeatsAsync()).Text);
        await conn.SendAsync("RDY 1");
        return conn;
    }
}
