using Microsoft.Extensions.Logging;
using NsqSharp.Nsqd.Storage;
using NsqSharp.Testing;
using Xunit;
using static NsqSharp.Nsqd.Tests.Storage.StorageTestSupport;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>PartitionLogOptions.PreallocateSegments: rolls into zero-filled spares, and the files on disk stay exact
/// (closed segments cut to their data, a clean close cuts the active one, a crash image recovers without damage).</summary>
public sealed class PreallocationTests : IDisposable
{
    private const long SegmentBytes = 64 * 1024;
    private readonly TempDirectory _temp = new("nsqsharp-prealloc");
    private readonly ListLogger _logger = new();

    private string Dir => Path.Combine(_temp.Path, "topic", "0");

    public void Dispose() => _temp.Dispose();

    private static PartitionLogOptions Options => new() { SegmentBytes = SegmentBytes, IndexIntervalBytes = 4096, PreallocateSegments = true };

    private PartitionLog Open(string? dir = null, ListLogger? logger = null) => PartitionLog.Open(dir ?? Dir, 0, Options, logger ?? _logger);

    private static async Task AppendAsync(PartitionLog log, int from, int count)
    {
        for (int i = from; i < from + count; i++)
        {
            await log.AppendAsync(Body(i, 1000), 0).WithTimeout();
        }
    }

    /// <summary>Bounded wait for the background fill (not a timing assertion: it only has to happen).</summary>
    private static async Task WaitForSpareAsync(PartitionLog log, long fills)
    {
        using var bound = new CancellationTokenSource(TestTimeout);
        while (log.SpareFills < fills)
        {
            await Task.Delay(10, bound.Token);
        }
    }

    private static long FileLength(string path) => new FileInfo(path).Length;

    [Fact]
    public async Task ANewLog_RollsEarlyIntoASpare_AndLaterRollsTakeSpares_WithClosedSegmentsCutToTheirData()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 0, 1); // the first write into a segment that is not preallocated starts a spare
            await WaitForSpareAsync(log, 1);
            await AppendAsync(log, 1, 1); // ... and the next turn rolls into it
            Assert.Equal(1, log.PreallocatedRolls);
            string active = SegmentPath(Dir, SegmentBases(Dir)[^1]);
            Assert.Equal(SegmentBytes, FileLength(active)); // zeros ahead of the data

            await AppendAsync(log, 2, 40); // past half of the segment: the next spare is filled
            await WaitForSpareAsync(log, 2);
            await AppendAsync(log, 42, 40); // past the segment: the roll takes it
            Assert.Equal(2, log.PreallocatedRolls);
            Assert.Equal(82, log.LogEnd);

            long[] bases = SegmentBases(Dir);
            Assert.Equal(3, bases.Length);
            for (int i = 0; i < bases.Length - 1; i++)
            {
                string closed = SegmentPath(Dir, bases[i]);
                using var handle = File.OpenHandle(closed);
                byte[] last = new byte[16];
                RandomAccess.Read(handle, last, FileLength(closed) - last.Length);
                Assert.Contains(last, b => b != 0); // ends in data (a record's body), not in spare zeros
            }
        }

        // A clean close cut the active segment too and removed the spare: the reopened log trusts its indexes.
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
        var reopened = new ListLogger();
        await using (var log = Open(logger: reopened))
        {
            Assert.Equal(82, log.LogEnd);
            Assert.Equal(Enumerable.Range(0, 82), ReadAll(log).Select(r => BodyId(r.Body)));
        }

        Assert.DoesNotContain(reopened.Entries, e => e.Level >= LogLevel.Warning);
        Assert.False(reopened.Has(LogLevel.Information, "index rebuilt"));
        Assert.False(reopened.Has(LogLevel.Information, "preallocated space")); // cut at the close, not at the open
    }

    [Fact]
    public async Task ACrashInAPreallocatedSegment_RecoversEveryAcknowledgedMessage_AndDropsTheZeroTailWithoutCallingItDamage()
    {
        string crash = Path.Combine(_temp.Path, "crash", "0");
        await using (var log = Open())
        {
            await AppendAsync(log, 0, 1);
            await WaitForSpareAsync(log, 1);
            await AppendAsync(log, 1, 10);
            Assert.Equal(1, log.PreallocatedRolls);

            // The files as a power cut would leave them (every append above was fsynced before it completed).
            Directory.CreateDirectory(crash);
            foreach (string file in Directory.GetFiles(Dir))
            {
                File.Copy(file, Path.Combine(crash, Path.GetFileName(file)));
            }
        }

        var recovered = new ListLogger();
        await using (var log = Open(crash, recovered))
        {
            Assert.Equal(11, log.LogEnd);
            Assert.Equal(Enumerable.Range(0, 11), ReadAll(log).Select(r => BodyId(r.Body)));
            await AppendAsync(log, 11, 1); // and it goes on appending
            Assert.Equal(12, log.LogEnd);
        }

        Assert.True(recovered.Has(LogLevel.Information, "preallocated space"));
        Assert.DoesNotContain(recovered.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Empty(Directory.GetFiles(crash, "*.tmp")); // the copied spare was never trusted
    }

    [Fact]
    public async Task ATruncationInAPreallocatedSegment_CutsTheFileAtTheNewEnd()
    {
        await using (var log = Open())
        {
            await AppendAsync(log, 0, 1);
            await WaitForSpareAsync(log, 1);
            await AppendAsync(log, 1, 10);
            Assert.Equal(1, log.PreallocatedRolls);
            Assert.Equal(6, await log.TruncateToAsync(6).AsTask().WithTimeout());
            string active = SegmentPath(Dir, SegmentBases(Dir)[^1]);
            Assert.True(FileLength(active) < 6 * 1100, $"{FileLength(active)} bytes after the cut");
            await AppendAsync(log, 6, 2);
        }

        var reopened = new ListLogger();
        await using (var log = Open(logger: reopened))
        {
            Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6, 7 }, ReadAll(log).Select(r => BodyId(r.Body)));
        }

        Assert.DoesNotContain(reopened.Entries, e => e.Level >= LogLevel.Warning);
    }
}
