using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>
/// A channel with a deep pending set through the real process: 200,000 messages in flight to a consumer that
/// never finishes them, while a trickle of FINs makes the channel change every second. The checkpoint step's
/// lock hold time is read from /metrics and written to the test output (docs/BENCHMARKS.md has the figures;
/// no duration is asserted). Then kill -9 and restart: every unfinished message is still there, each
/// redelivered with its attempt count.
/// </summary>
public sealed class DeepPendingCheckpointTests(ITestOutputHelper output)
{
    private const int Messages = 200_000;
    private const int PublishBatch = 5_000;
    private const int Finished = 20;

    [Fact(Timeout = 300_000)]
    public async Task DeepInFlightSetIsCheckpointedAndSurvivesSigkill()
    {
        await using var nsqd = await NsqdInstance.StartAsync(["--max-rdy-count=250000", "--msg-timeout=10m", "--max-msg-timeout=15m"]);
        var topic = Names.Unique("deep");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch")).Status);

        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            var bodies = new List<byte[]>(PublishBatch);
            for (var i = 0; i < Messages; i += PublishBatch)
            {
                bodies.Clear();
                for (var j = 0; j < PublishBatch; j++)
                {
                    bodies.Add(Encoding.ASCII.GetBytes((i + j).ToString("D8", CultureInfo.InvariantCulture)));
                }

                await pub.MultiPublishAsync(topic, bodies);
                await pub.ExpectResponseAsync("OK", TimeSpan.FromSeconds(60));
            }
        }

        var ids = new string[Messages];
        using (var consumer = await FastConsumer.SubscribeAsync(nsqd.TcpPort, topic, "ch"))
        {
            await consumer.SendAsync($"RDY {Messages}");
            for (var received = 0; received < Messages; received++)
            {
                var (attempts, id, body) = await consumer.NextMessageAsync();
                Assert.Equal(1, attempts);
                ids[int.Parse(body, CultureInfo.InvariantCulture)] = id;
            }

            await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", Messages, TimeSpan.FromSeconds(60));

            // The pending set is now 200,000 deep. A FIN every 250 ms makes each 1 s checkpoint happen at that depth.
            var samples = new List<double>();
            for (var i = 0; i < Finished; i++)
            {
                await consumer.SendAsync("FIN " + ids[i]);
                await Task.Delay(250);
                if (i % 4 == 3)
                {
                    samples.Add(await MetricAsync(nsqd, "nsqd_channel_checkpoint_lock_last_seconds", topic));
                }
            }

            // Once the last FIN is applied, the next checkpoint's locked step covers it; give its write a moment.
            await nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", Messages - Finished, TimeSpan.FromSeconds(30));
            var checkpoints = await MetricAsync(nsqd, "nsqd_channel_checkpoints_total", topic);
            for (var i = 0; i < 50 && await MetricAsync(nsqd, "nsqd_channel_checkpoints_total", topic) == checkpoints; i++)
            {
                await Task.Delay(100); // no new checkpoint within 5 s: the one before already covered it
            }

            await Task.Delay(1000);
            var max = await MetricAsync(nsqd, "nsqd_channel_checkpoint_lock_max_seconds", topic);
            var count = await MetricAsync(nsqd, "nsqd_channel_checkpoints_total", topic);
            var sum = await MetricAsync(nsqd, "nsqd_channel_checkpoint_lock_seconds_total", topic);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"checkpoint lock hold at {Messages} pending (last, sampled): {string.Join(", ", samples.Select(s => $"{s * 1e6:F0} µs"))}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"checkpoint lock hold: {count} checkpoints, mean {sum / count * 1e6:F0} µs, max {max * 1e6:F0} µs (max includes the ramp to {Messages})"));
            var step = await MetricAsync(nsqd, "nsqd_channel_checkpoint_seconds_total", topic);
            var ops = await MetricAsync(nsqd, "nsqd_channel_checkpoint_ops_total", topic);
            var snapshots = await MetricAsync(nsqd, "nsqd_channel_checkpoint_snapshots_total", topic);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"whole checkpoint steps (lock + apply + write + fsync): mean {step / count * 1e3:F1} ms; {ops} ops persisted, {snapshots} snapshots"));
            Assert.True(count > 0);

            nsqd.Process.Kill9();
        }

        await nsqd.Process.RestartAsync();

        // Nothing unfinished is lost; a FIN whose checkpoint did not make it before the kill may be redelivered.
        var stats = (await nsqd.ChannelStatsAsync(topic, "ch"))!.Value;
        var depth = stats.GetProperty("depth").GetInt64();
        output.WriteLine($"after kill -9 and restart: depth {depth} (expected {Messages - Finished})");
        Assert.InRange(depth, Messages - Finished, Messages);
        Assert.Equal(0, stats.GetProperty("in_flight_count").GetInt64());

        using var again = await FastConsumer.SubscribeAsync(nsqd.TcpPort, topic, "ch");
        await again.SendAsync("RDY 100");
        var seen = new HashSet<int>();
        for (var i = 0; i < 100; i++)
        {
            var (attempts, _, body) = await again.NextMessageAsync();
            Assert.True(seen.Add(int.Parse(body, CultureInfo.InvariantCulture)), $"message {body} delivered twice");
            Assert.Equal(2, attempts); // each was delivered once before the kill
        }
    }

    private static async Task<double> MetricAsync(NsqdInstance nsqd, string name, string topic)
    {
        var text = (await nsqd.GetAsync("/metrics")).Body;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + "{", StringComparison.Ordinal) && line.Contains($"topic=\"{topic}\"", StringComparison.Ordinal))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"{name} for {topic} not on /metrics");
    }

    /// <summary>A bare V2 consumer that parses frames straight off a buffered socket (RawConnection is too slow for 200k).</summary>
    private sealed class FastConsumer : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly BufferedStream _in;
        private readonly NetworkStream _out;
        private readonly byte[] _header = new byte[8];

        private FastConsumer(TcpClient tcp)
        {
            _tcp = tcp;
            _out = tcp.GetStream();
            _in = new BufferedStream(_out, 1 << 16);
        }

        public static async Task<FastConsumer> SubscribeAsync(int port, string topic, string channel)
        {
            var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync("127.0.0.1", port);
            var c = new FastConsumer(tcp);
            await c._out.WriteAsync(ProtocolConstants.MagicV2.ToArray());
            await c.SendAsync($"SUB {topic} {channel}");
            var (type, data) = await c.ReadFrameAsync();
            Assert.Equal(0, type);
            Assert.Equal("OK", Encoding.ASCII.GetString(data));
            return c;
        }

        public async Task SendAsync(string line) => await _out.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"));

        public async Task<(ushort Attempts, string Id, string Body)> NextMessageAsync()
        {
            while (true)
            {
                var (type, data) = await ReadFrameAsync();
                if (type == 2)
                {
                    return (BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(8)), Encoding.ASCII.GetString(data, 10, 16),
                        Encoding.ASCII.GetString(data, 26, data.Length - 26));
                }

                if (type == 0 && Encoding.ASCII.GetString(data) == "_heartbeat_")
                {
                    await SendAsync("NOP");
                    continue;
                }

                throw new InvalidOperationException($"unexpected frame {type}: {Encoding.ASCII.GetString(data)}");
            }
        }

        private async Task<(int Type, byte[] Data)> ReadFrameAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _in.ReadExactlyAsync(_header, timeout.Token);
            var size = BinaryPrimitives.ReadInt32BigEndian(_header);
            var type = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(4));
            var data = new byte[size - 4];
            await _in.ReadExactlyAsync(data, timeout.Token);
            return (type, data);
        }

        public void Dispose()
        {
            _in.Dispose();
            _tcp.Dispose();
        }
    }
}
