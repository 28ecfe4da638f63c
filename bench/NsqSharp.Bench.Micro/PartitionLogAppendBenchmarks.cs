using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Partition log append throughput: <see cref="Producers"/> concurrent publishers each appending MPUB-style batches of
/// 200 messages of 200 bytes, group-committed. Reported time is per message. Medium "memory" puts the log on tmpfs
/// (/dev/shm) to isolate CPU cost from the disk; "disk" uses the temp directory with real fsyncs.
/// </summary>
[MemoryDiagnoser]
public class PartitionLogAppendBenchmarks
{
    private const int MessagesPerBatch = 200;
    private const int BodyBytes = 200;
    private const int BatchesPerProducer = 50;

    private readonly List<ReadOnlyMemory<byte>> _batch = new();
    private readonly ReadOnlyMemory<byte> _single = new byte[BodyBytes];
    private string _directory = "";
    private PartitionLog? _log;

    [Params(1, 4)]
    public int Producers { get; set; }

    [Params(SyncMode.EveryAppend, SyncMode.Interval)]
    public SyncMode Sync { get; set; }

    [Params("disk", "memory")]
    public string Medium { get; set; } = "disk";

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < MessagesPerBatch; i++)
        {
            _batch.Add(new byte[BodyBytes]);
        }

        string root = Medium == "memory" && Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _directory = Path.Combine(root, "nsqsharp-bench-" + Guid.NewGuid().ToString("N"));
        _log = PartitionLog.Open(_directory, 0, new PartitionLogOptions
        {
            SegmentBytes = 32 * 1024 * 1024,
            SyncMode = Sync,
            RetentionBytes = 64 * 1024 * 1024,
        }, NullLogger.Instance);
    }

    [IterationCleanup]
    public void TrimLog() => _log!.EnforceRetention(_log.LogEnd, DateTimeOffset.UtcNow);

    [GlobalCleanup]
    public void Cleanup()
    {
        _log!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        PartitionLog.DeleteFiles(_directory);
    }

    [Benchmark(OperationsPerInvoke = MessagesPerBatch * BatchesPerProducer)]
    public Task AppendBatches() => RunProducers(static async (log, batch) =>
    {
        for (int i = 0; i < BatchesPerProducer; i++)
        {
            await log.AppendBatchAsync(batch, 0).ConfigureAwait(false);
        }
    });

    /// <summary>Single-message PUBs (one batch per message), 16 in flight per producer.</summary>
    [Benchmark(OperationsPerInvoke = MessagesPerBatch * BatchesPerProducer)]
    public Task AppendSingles() => RunProducers(async (log, _) =>
    {
        var inFlight = new ValueTask<AppendResult>[16];
        for (int i = 0; i < MessagesPerBatch * BatchesPerProducer / inFlight.Length; i++)
        {
            for (int j = 0; j < inFlight.Length; j++)
            {
                inFlight[j] = log.AppendAsync(_single, 0);
            }

            for (int j = 0; j < inFlight.Length; j++)
            {
                await inFlight[j].ConfigureAwait(false);
            }
        }
    });

    // OperationsPerInvoke counts one producer's messages; the others run concurrently, so divide by Producers
    // for the aggregate per-message time.
    private Task RunProducers(Func<PartitionLog, List<ReadOnlyMemory<byte>>, Task> producer)
    {
        var tasks = new Task[Producers];
        for (int p = 0; p < Producers; p++)
        {
            tasks[p] = Task.Run(() => producer(_log!, _batch));
        }

        return Task.WhenAll(tasks);
    }
}
