using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// The replication primitives of the partition log, per message: a leader serving fetches (ReadRawBatches in 1 MiB
/// fetches over 100,000 messages of 200 bytes in MPUBs of 200) and a follower copying them (fetch + AppendRawBatchesAsync,
/// validation and CRC check included; the follower on tmpfs with interval sync so the disk does not dominate).
/// </summary>
[MemoryDiagnoser]
public class PartitionLogReplicationBenchmarks
{
    private const int Messages = 100_000;
    private const int FetchBytes = 1 << 20;
    private string _leaderDirectory = "";
    private string _followerDirectory = "";
    private PartitionLog? _leader;
    private PartitionLog? _follower;

    [GlobalSetup]
    public void Setup()
    {
        _leaderDirectory = Path.Combine(Path.GetTempPath(), "nsqsharp-bench-leader-" + Guid.NewGuid().ToString("N"));
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _followerDirectory = Path.Combine(root, "nsqsharp-bench-follower-" + Guid.NewGuid().ToString("N"));
        _leader = PartitionLog.Open(_leaderDirectory, 0, new PartitionLogOptions { SegmentBytes = 8 * 1024 * 1024 }, NullLogger.Instance);
        _follower = PartitionLog.Open(_followerDirectory, 0, new PartitionLogOptions
        {
            SegmentBytes = 8 * 1024 * 1024,
            SyncMode = SyncMode.Interval,
        }, NullLogger.Instance);
        var batch = new List<ReadOnlyMemory<byte>>();
        for (int i = 0; i < 200; i++)
        {
            batch.Add(new byte[200]);
        }

        for (int i = 0; i < Messages / 200; i++)
        {
            _leader.AppendBatchAsync(batch, 0).AsTask().GetAwaiter().GetResult();
        }
    }

    [IterationSetup(Target = nameof(CopyToFollower))]
    public void EmptyFollower() => _follower!.TruncateToAsync(0).AsTask().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _leader!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _follower!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        PartitionLog.DeleteFiles(_leaderDirectory);
        PartitionLog.DeleteFiles(_followerDirectory);
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public long FetchRaw()
    {
        long next = 0;
        long bytes = 0;
        while (true)
        {
            using RawBatches raw = _leader!.ReadRawBatches(next, FetchBytes, LogBound.LogEnd);
            if (raw.IsEmpty)
            {
                return bytes;
            }

            bytes += raw.Bytes.Length;
            next = raw.NextOffset;
        }
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> CopyToFollower()
    {
        PartitionLog follower = _follower!;
        while (follower.LogEnd < Messages)
        {
            using RawBatches raw = _leader!.ReadRawBatches(follower.LogEnd, FetchBytes, LogBound.LogEnd);
            await follower.AppendRawBatchesAsync(raw.Bytes).ConfigureAwait(false);
        }

        return follower.LogEnd;
    }
}
