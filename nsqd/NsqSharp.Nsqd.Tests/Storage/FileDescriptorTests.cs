using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>Tests that count the process's open file descriptors run alone (other tests open files too).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FileDescriptorCollection
{
    public const string Name = "file descriptors";
}

/// <summary>Segment file handles are bounded by a budget, not by the number of partition logs.</summary>
[Collection(FileDescriptorCollection.Name)]
public sealed class FileDescriptorTests : IDisposable
{
    private const int Budget = 64;
    private const int Slack = 16;
    private readonly TempDirectory _temp = new("nsqsharp-fds");
    private readonly ListLogger _logger = new();

    public void Dispose() => _temp.Dispose();

    internal static int OpenFds() => ProcessResources.OpenFileDescriptors(Environment.ProcessId);

    [Fact]
    public async Task EmptyLogs_HoldNoHandles()
    {
        var cache = new SegmentHandleCache(Budget);
        var options = new PartitionLogOptions { HandleCache = cache };
        int before = OpenFds();
        var logs = new List<PartitionLog>();
        try
        {
            for (int i = 0; i < 500; i++)
            {
                var log = PartitionLog.Open(Path.Combine(_temp.Path, "e" + i, "0"), 0, options, _logger);
                logs.Add(log);
                Assert.Equal(0, log.Read(0, 10, 1 << 20, LogBound.HighWatermark, []));
                Assert.False(log.TryRead(0, LogBound.HighWatermark, out _));
                Assert.Equal(0, log.FindOffsetByTime(0, LogBound.HighWatermark));
            }

            Assert.Equal(0, cache.OpenHandles);
            Assert.True(OpenFds() - before < Slack, $"{OpenFds() - before} fds open for 500 empty logs");
        }
        finally
        {
            foreach (var log in logs)
            {
                await log.DisposeAsync();
            }
        }

        // Reopened (recovery reads each segment through a handle it closes again): still nothing held.
        await using var reopened = PartitionLog.Open(Path.Combine(_temp.Path, "e0", "0"), 0, options, _logger);
        Assert.Equal(0, cache.OpenHandles);
    }

    [Fact]
    public async Task ThousandsOfIdleLogs_HoldNoMoreHandlesThanTheBudget()
    {
        var options = new PartitionLogOptions { SegmentBytes = 1 << 20, HandleCache = new SegmentHandleCache(Budget) };
        int before = OpenFds();
        var logs = new PartitionLog[3000];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = 16 }; // overlap the fsyncs
        try
        {
            await Parallel.ForAsync(0, logs.Length, parallel, async (i, _) =>
            {
                logs[i] = PartitionLog.Open(Path.Combine(_temp.Path, "t" + i, "0"), 0, options, _logger);
                await logs[i].AppendAsync(Body(i), 0).WithTimeout();
            });

            int idle = OpenFds() - before;
            Assert.True(idle < Budget + Slack, $"{idle} fds open for 3000 idle logs (budget {Budget})");

            // Every log still reads and appends (handles reopen on demand), and the bound still holds.
            await Parallel.ForAsync(0, logs.Length, parallel, async (i, _) =>
            {
                Assert.Equal(1, (await logs[i].AppendAsync(Body(i + 1), 0).WithTimeout()).FirstOffset);
                var records = ReadAll(logs[i]);
                Assert.Equal([i, i + 1], records.Select(r => BodyId(r.Body)));
                Assert.True(logs[i].TryRead(0, LogBound.HighWatermark, out var first));
                Assert.Equal(i, BodyId(first.Body));
            });

            int after = OpenFds() - before;
            Assert.True(after < Budget + Slack, $"{after} fds open after touching every log (budget {Budget})");
        }
        finally
        {
            foreach (var log in logs)
            {
                if (log is not null)
                {
                    await log.DisposeAsync();
                }
            }
        }
    }
}
