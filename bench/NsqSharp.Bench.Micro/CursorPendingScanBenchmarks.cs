using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Work that visits every pending (unacknowledged) message of a cursor while holding the channel lock,
/// so its cost is time during which no FIN or delivery on that channel proceeds: the ack floor (asked
/// by retention every 30 s) and the checkpoint snapshot (taken every second while the channel changes).
/// </summary>
[MemoryDiagnoser]
public class CursorPendingScanBenchmarks
{
    private string _dataPath = "";
    private Broker? _broker;
    private Channel? _channel;

    [Params(2_500, 100_000, 1_000_000)]
    public int Pending { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _dataPath = Path.Combine(root, "nsqsharp-ackfloor-bench-" + Guid.NewGuid().ToString("N"));
        _broker = new Broker(new NsqdOptions { DataPath = _dataPath }, NullLoggerFactory.Instance);
        _broker.Start();
        _channel = _broker.GetOrCreateTopic("bench").GetOrCreateChannel("ch");
        lock (_channel.Sync)
        {
            var cursor = _channel.Cursors[0];
            // Offsets 1..Pending in flight; the floor scan visits every pending entry whatever the answer.
            for (long offset = 1; offset <= Pending; offset++)
            {
                cursor.Pending[offset] = new PendingMessage { State = PendingState.InFlight };
            }
        }
    }

    [Benchmark]
    public long AckFloor() => _channel!.AckFloor(0);

    [Benchmark]
    public int CheckpointSnapshot()
    {
        var entries = new List<CheckpointEntry>();
        lock (_channel!.Sync)
        {
            _channel.Cursors[0].Snapshot(entries, out _);
        }

        return entries.Count;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dataPath, recursive: true);
    }
}
