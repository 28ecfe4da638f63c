using System.Diagnostics;
using System.Text;
using NsqSharp.Common.Protocol;
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

        Assert.True(nsqd.Process!.Terminate(TimeSpan.FromSeconds(10)), "nsqd did not exit on SIGTERM");
        Assert.Equal(0, nsqd.Process.ExitCode);
        await nsqd.RestartAsync();

        await using var conn = await Subscribe(nsqd.TcpPort, "later", "c");
        var first = await conn.ReadNonHeartbeatAsync();
        Assert.Equal("now", Encoding.UTF8.GetString(first.Body));
        await conn.SendAsync("FIN " + first.Id);
        var second = await conn.ReadNonHeartbeatAsync();
        Assert.Equal("deferred", Encoding.UTF8.GetString(second.Body));
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
            var m0 = await conn.ReadNonHeartbeatAsync();
            await conn.SendAsync("FIN " + m0.Id);
            var m1 = await conn.ReadNonHeartbeatAsync();
            await conn.SendAsync("REQ " + m1.Id + " 5000");
            var m2 = await conn.ReadNonHeartbeatAsync();
            await conn.SendAsync("FIN " + m2.Id);
            Assert.Equal(["m0", "m1", "m2"], new[] { m0, m1, m2 }.Select(f => Encoding.UTF8.GetString(f.Body)));
            await conn.SendAsync("NOP");
        }

        // Cursor checkpoints are written every second; wait for one, then crash.
        await WaitForCheckpointAsync(nsqd.DataPath, "req", "c");
        await Task.Delay(1500);
        nsqd.Kill9();
        await nsqd.RestartAsync();

        await using var again = await Subscribe(nsqd.TcpPort, "req", "c");
        var redelivered = await again.ReadNonHeartbeatAsync();
        Assert.Equal("m1", Encoding.UTF8.GetString(redelivered.Body));
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
        Assert.True(nsqd.Process!.Terminate(TimeSpan.FromSeconds(10)));
        await nsqd.RestartAsync();
        var stats = await http.GetStringAsync($"{nsqd.HttpBase}/stats?format=json&topic=p");
        Assert.Contains("\"channel_name\":\"c\"", stats, StringComparison.Ordinal);
        Assert.Contains("\"paused\":true", stats, StringComparison.Ordinal);
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

    private static async Task<V2TestConnection> Subscribe(int port, string topic, string channel)
    {
        var conn = await V2TestConnection.ConnectAsync(port);
        await conn.IdentifyAsync("{\"heartbeat_interval\":1000}");
        Assert.Equal("OK", (await conn.ReadFrameAsync()).Text);
        await conn.SendAsync($"SUB {topic} {channel}");
        Assert.Equal("OK", (await conn.ReadNonHeartbeatAsync()).Text);
        await conn.SendAsync("RDY 1");
        conn.ReadTimeout = TimeSpan.FromSeconds(15);
        return conn;
    }
}
