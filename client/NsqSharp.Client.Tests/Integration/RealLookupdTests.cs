using NsqSharp.Testing;

namespace NsqSharp.Client.Tests.Integration;

/// <summary>Discovery through a real nsqlookupd, and the CLI tools as real processes.</summary>
public class RealLookupdTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [NsqlookupdFact]
    public async Task Consumer_discovers_nsqd_through_lookupd()
    {
        await using var lookupd = await TestServers.StartNsqlookupdAsync();
        await using var nsqd = await TestServers.StartNsqdAsync($"--lookupd-tcp-address={lookupd.TcpAddress}");
        var topic = NsqdFixture.UniqueTopic("discover");
        await using (var producer = new Producer(nsqd.TcpAddress))
        {
            await producer.PublishAsync(topic, "found me").AsTask().WaitAsync(Wait);
        }

        await WaitForProducerAsync(lookupd, topic);
        await using var consumer = new Consumer(topic, "ch", new NsqConfig { LookupdPollInterval = TimeSpan.FromSeconds(1) });
        var got = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((m, _) =>
        {
            got.TrySetResult(m.GetBodyAsString() + " via " + m.NsqdAddress);
            return Task.CompletedTask;
        });
        await consumer.ConnectToNsqLookupdAsync(lookupd.HttpAddress).WaitAsync(Wait);
        Assert.Equal("found me via " + nsqd.TcpAddress, await got.Task.WaitAsync(Wait));
        Assert.Equal(1, consumer.GetStats().Connections);
    }

    [NsqdFact]
    public async Task To_nsq_and_nsq_tail_processes_move_lines_through_nsqd()
    {
        await using var nsqd = await TestServers.StartNsqdAsync();
        var topic = NsqdFixture.UniqueTopic("tools");

        // create the channel first so nothing published is lost to a channel that doesn't exist yet
        using var tail = Start("nsq_tail", $"-topic={topic}", "-channel=tail", $"-nsqd-tcp-address={nsqd.TcpAddress}", "-n", "3", "-print-topic");
        await WaitForChannelAsync(nsqd, topic, "tail");

        using (var toNsq = Start("to_nsq", $"-topic={topic}", $"-nsqd-tcp-address={nsqd.TcpAddress}", "-delimiter=;", "-rate=100"))
        {
            await toNsq.StandardInput.WriteAsync("alpha;beta;;gamma");
            toNsq.StandardInput.Close();
            await toNsq.WaitForExitAsync(Wait);
            Assert.Equal(0, toNsq.ExitCode);
        }

        await tail.WaitForExitAsync(Wait);
        Assert.Equal(0, tail.ExitCode);
        Assert.Equal($"{topic} | alpha\n{topic} | beta\n{topic} | gamma\n", tail.Stdout);
    }

    private static ManagedProcess Start(string tool, params string[] args) => ManagedProcess.Start(RepoPaths.Executable(tool), args);

    private static async Task WaitForProducerAsync(NsqlookupdProcess lookupd, string topic)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            using var response = await http.GetAsync($"http://{lookupd.HttpAddress}/lookup?topic={topic}");
            if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("\"tcp_port\"", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("nsqd never registered the topic with nsqlookupd");
    }

    private static async Task WaitForChannelAsync(NsqdProcess nsqd, string topic, string channel)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            var stats = await http.GetStringAsync($"http://{nsqd.HttpAddress}/stats?format=json&topic={topic}");
            if (stats.Contains($"\"channel_name\":\"{channel}\"", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the nsq_tail channel never appeared");
    }
}
