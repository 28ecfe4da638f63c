using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace NsqSharp.Client.Benchmarks;

/// <summary>
/// Bytes allocated per message on the publish and consume paths, measured with
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> around a steady-state run against a real nsqd (its
/// allocations are in its own process, so only the client is counted). Warm-up runs first.
/// </summary>
internal static class AllocationReport
{
    public static async Task<int> RunAsync(string nsqdAddress, int count)
    {
        var topic = "alloc-" + Guid.NewGuid().ToString("N")[..8];
        var body = Encoding.ASCII.GetBytes(new string('x', 100));
        Console.WriteLine($"allocation per message against nsqd {nsqdAddress}, {count} messages of {body.Length} B, .NET {Environment.Version}");

        await using (var producer = new Producer(nsqdAddress))
        {
            await PublishAsync(producer, topic, body, count / 10); // warm-up (JIT, pools, connection)
            using (var sampler = new AllocationSampler())
            {
                sampler.Start();
                var pub = await MeasureAsync(() => PublishAsync(producer, topic, body, count));
                Report("publish (PUB, 64 pipelined)", pub, count);
                foreach (var (type, samples) in sampler.Stop())
                {
                    Console.WriteLine($"    sampled: {type} x{samples}");
                }
            }

            var batch = Enumerable.Range(0, 100).Select(_ => (ReadOnlyMemory<byte>)body).ToArray();
            var mpub = await MeasureAsync(async () =>
            {
                for (var i = 0; i < count / batch.Length; i++)
                {
                    await producer.MultiPublishAsync(topic, batch);
                }
            });
            Report("publish (MPUB x100, per message)", mpub, count);
        }

        // a fresh topic for consuming; its channel is created before publishing so no message is skipped
        var consumeTopic = topic + "-c";
        await using (var producer = new Producer(nsqdAddress))
        {
            await using (var creator = new Consumer(consumeTopic, "bench"))
            {
                await creator.ConnectToNsqdAsync(nsqdAddress);
            }

            var batch = Enumerable.Range(0, 100).Select(_ => (ReadOnlyMemory<byte>)body).ToArray();
            for (var i = 0; i < (count + count / 10) / batch.Length + 1; i++)
            {
                await producer.MultiPublishAsync(consumeTopic, batch);
            }
        }

        var consumed = await ConsumeAsync(nsqdAddress, consumeTopic, count / 10, count);
        Report("consume (handler, auto FIN, max_in_flight 200)", consumed, count);
        return 0;
    }

    private static async Task PublishAsync(Producer producer, string topic, byte[] body, int count)
    {
        const int window = 64;
        var pending = new ValueTask[window];
        for (var i = 0; i < count; i++)
        {
            var slot = i % window;
            if (i >= window)
            {
                await pending[slot];
            }

            pending[slot] = producer.PublishAsync(topic, body);
        }

        for (var i = Math.Max(0, count - window); i < count; i++)
        {
            await pending[i % window];
        }
    }

    private static async Task<(long Bytes, TimeSpan Elapsed)> ConsumeAsync(string address, string topic, int warmup, int count)
    {
        var config = new NsqConfig { MaxInFlight = 200 };
        await using var consumer = new Consumer(topic, "bench", config);
        var seen = 0L;
        long startBytes = 0;
        var start = new Stopwatch();
        var done = new TaskCompletionSource<(long, TimeSpan)>(TaskCreationOptions.RunContinuationsAsynchronously);
        consumer.AddHandler((_, _) =>
        {
            var n = Interlocked.Increment(ref seen);
            if (n == warmup)
            {
                startBytes = GC.GetTotalAllocatedBytes(precise: true);
                start.Start();
            }
            else if (n == warmup + count)
            {
                done.TrySetResult((GC.GetTotalAllocatedBytes(precise: true) - startBytes, start.Elapsed));
            }

            return Task.CompletedTask;
        });
        await consumer.ConnectToNsqdAsync(address);
        return await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    }

    private static async Task<(long Bytes, TimeSpan Elapsed)> MeasureAsync(Func<Task> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        await run();
        watch.Stop();
        return (GC.GetTotalAllocatedBytes(precise: true) - before, watch.Elapsed);
    }

    private static void Report(string name, (long Bytes, TimeSpan Elapsed) result, int count) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-48} {result.Bytes / (double)count,8:F1} B/msg   {count / result.Elapsed.TotalSeconds,10:F0} msg/s"));
}
