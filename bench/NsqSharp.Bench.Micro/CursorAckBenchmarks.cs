using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// A channel's per-message consume path without sockets: take a message from the ready queue (marks it
/// in flight on the cursor) and FIN it, as one subscribed client does. The backlog is published
/// (relaxed sync, on tmpfs when available) before each iteration; the time reported is per message.
/// </summary>
[MemoryDiagnoser]
public class CursorAckBenchmarks
{
    private const int Backlog = 20_000;
    private const int Batch = 200;

    private readonly List<ReadOnlyMemory<byte>> _bodies = [];
    private string _dataPath = "";
    private Broker? _broker;
    private Topic? _topic;
    private Channel? _channel;
    private readonly BenchConsumer _consumer = new();

    [GlobalSetup]
    public void Setup()
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _dataPath = Path.Combine(root, "nsqsharp-cursor-bench-" + Guid.NewGuid().ToString("N"));
        _broker = new Broker(new NsqdOptions { DataPath = _dataPath, SyncEvery = 10_000 }, NullLoggerFactory.Instance);
        _broker.Start();
        _topic = _broker.GetOrCreateTopic("bench");
        _channel = _topic.GetOrCreateChannel("ch");
        for (var i = 0; i < Batch; i++)
        {
            _bodies.Add(new byte[200]);
        }
    }

    [IterationSetup]
    public void PublishBacklog()
    {
        for (var i = 0; i < Backlog / Batch; i++)
        {
            _topic!.PublishBatchAsync(_bodies, 0).AsTask().GetAwaiter().GetResult();
        }
    }

    [Benchmark(OperationsPerInvoke = Backlog)]
    public int TakeAndFinish()
    {
        var channel = _channel!;
        var done = 0;
        while (done < Backlog)
        {
            if (channel.TryTake(_consumer, 60_000, out var delivery, out _))
            {
                channel.Finish(_consumer, new MessageId(delivery.Partition, delivery.Offset));
                done++;
            }
            else
            {
                // The fill loop refills the ready queue from the log asynchronously.
                _consumer.Woken.WaitAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
        }

        return done;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dataPath, recursive: true);
    }

    private sealed class BenchConsumer : IChannelConsumer
    {
        public long ClientId => 1;

        public void InFlightReleased(int count)
        {
        }

        /// <summary>Set by the channel when a message is queued after a take found nothing.</summary>
        public AsyncSignal Woken { get; } = new();

        public void Wake() => Woken.Set();

        public void CloseForChannelDelete()
        {
        }

        public void CloseForLeadershipLoss(string error)
        {
        }
    }
}
