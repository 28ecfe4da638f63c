using System.Net;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Statsd;

/// <summary>--statsd-address: upstream's stat names, counters as deltas, gauges, bounded datagrams.</summary>
public sealed class StatsdTests
{
    [Fact(Timeout = 60_000)]
    public async Task PushesUpstreamStatsToStatsdOverUdp()
    {
        using var statsd = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)statsd.Client.LocalEndPoint!).Port;
        using var nsqd = await NsqdProcess.StartAsync(
            $"--statsd-address=127.0.0.1:{port}", "--statsd-interval=500ms", "--statsd-prefix=test.%s", "--statsd-udp-packet-size=200");
        using var http = new HttpClient();
        (await http.PostAsync($"{nsqd.HttpBase}/topic/create?topic=st", null)).EnsureSuccessStatusCode();
        (await http.PostAsync($"{nsqd.HttpBase}/channel/create?topic=st&channel=c", null)).EnsureSuccessStatusCode();
        for (var i = 0; i < 3; i++)
        {
            (await http.PostAsync($"{nsqd.HttpBase}/pub?topic=st", new StringContent("m"))).EnsureSuccessStatusCode();
        }

        var prefix = $"test.127_0_0_1_{nsqd.HttpPort}.";
        long published = 0;
        var sawDepth = false;
        var sawMemory = false;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (published < 3 || !sawDepth || !sawMemory)
        {
            var datagram = await statsd.ReceiveAsync(deadline.Token);
            Assert.True(datagram.Buffer.Length <= 200, $"datagram of {datagram.Buffer.Length} bytes exceeds --statsd-udp-packet-size");
            foreach (var line in Encoding.UTF8.GetString(datagram.Buffer).Split('\n'))
            {
                Assert.StartsWith(prefix, line, StringComparison.Ordinal);
                var stat = line[prefix.Length..];
                if (stat.StartsWith("topic.st.message_count:", StringComparison.Ordinal))
                {
                    Assert.EndsWith("|c", stat, StringComparison.Ordinal);
                    published += long.Parse(stat["topic.st.message_count:".Length..^2], System.Globalization.CultureInfo.InvariantCulture);
                }

                sawDepth |= stat == "topic.st.channel.c.depth:3|g";
                sawMemory |= stat.StartsWith("mem.gc_runs:", StringComparison.Ordinal);
            }
        }

        // Counters are deltas: summed over later pushes too, they equal what was published, never more.
        using var twoMorePushes = new CancellationTokenSource(TimeSpan.FromMilliseconds(1500));
        try
        {
            while (true)
            {
                var datagram = await statsd.ReceiveAsync(twoMorePushes.Token);
                foreach (var line in Encoding.UTF8.GetString(datagram.Buffer).Split('\n'))
                {
                    var stat = line[prefix.Length..];
                    if (stat.StartsWith("topic.st.message_count:", StringComparison.Ordinal))
                    {
                        published += long.Parse(stat["topic.st.message_count:".Length..^2], System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        Assert.Equal(3, published);
    }
}
