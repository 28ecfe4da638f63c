using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Bench.Micro;

/// <summary>Partition log reads: a channel catching up (Read 256 at a time) and single-record redelivery (TryRead).</summary>
[MemoryDiagnoser]
public class PartitionLogReadBenchmarks
{
    private const int Messages = 100_000;
    private readonly List<LogRecord> _into = new(256);
    private string _directory = "";
    private PartitionLog? _log;
    private long[] _randomOffsets = [];

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "nsqsharp-bench-read-" + Guid.NewGuid().ToString("N"));
        _log = PartitionLog.Open(_directory, 0, new PartitionLogOptions { SegmentBytes = 8 * 1024 * 1024 }, NullLogger.Instance);
        var batch = new List<ReadOnlyMemory<byte>>();
        for (int i = 0; i < 200; i++)
        {
            batch.Add(new byte[200]);
        }

        for (int i = 0; i < Messages / 200; i++)
        {
            _log.AppendBatchAsync(batch, 0).AsTask().GetAwaiter().GetResult();
        }

        var random = new Random(3);
        _randomOffsets = new long[1000];
        for (int i = 0; i < _randomOffsets.Length; i++)
        {
            _randomOffsets[i] = random.NextInt64(Messages);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _log!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        PartitionLog.DeleteFiles(_directory);
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public long ReadSequential()
    {
        long next = 0;
        long bytes = 0;
        while (true)
        {
            _into.Clear();
            if (_log!.Read(next, 256, 1 << 20, LogBound.HighWatermark, _into) == 0)
            {
                return bytes;
            }

            foreach (LogRecord record in _into)
            {
                bytes += record.Body.Length;
            }

            next = _into[^1].Offset + 1;
        }
    }

    [Benchmark(OperationsPerInvoke = 1000)]
    public long TryReadRandom()
    {
        long bytes = 0;
        foreach (long offset in _randomOffsets)
        {
            if (_log!.TryRead(offset, LogBound.HighWatermark, out LogRecord record))
            {
                bytes += record.Body.Length;
            }
        }

        return bytes;
    }
}
