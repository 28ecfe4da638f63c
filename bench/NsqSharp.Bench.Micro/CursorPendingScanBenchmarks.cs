using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Broker;
using NsqSharp.Nsqd.Broker.Cursors;

namespace NsqSharp.Bench.Micro;

/// <summary>
/// Work that visits every pending (unacknowledged) message of a cursor while holding the channel lock,
/// so its cost is time during which no FIN or delivery on that channel proceeds: the ack floor (asked
/// by retention every 30 s) and a copy of the live state (what the checkpoint took every second before cursor ops;
/// now only after an op-buffer overflow). Against them, what the checkpoint does under the lock now (swap the op
/// buffer) and, off the lock, writing a snapshot of that many pending entries.
/// </summary>
[MemoryDiagnoser]
public class CursorPendingScanBenchmarks
{
    private string _dataPath = "";
    private Broker? _broker;
    private Channel? _channel;
    private CursorState? _state;
    private CursorState? _written;
    private CursorOp[] _spare = new CursorOp[1024];

    [Params(2_500, 8_192, 100_000, 1_000_000)]
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

            _state = _channel.CaptureStateLocked();
            _written = _state.Clone();
        }
    }

    [Benchmark]
    public long AckFloor() => _channel!.AckFloor(0);

    /// <summary>The old checkpoint's work under the lock: every pending entry copied.</summary>
    [Benchmark]
    public long LiveStateCopy()
    {
        lock (_channel!.Sync)
        {
            return _channel.CaptureStateLocked().PendingCount;
        }
    }

    /// <summary>The checkpoint's work under the lock for a busy channel with at most 8,192 pending: the live state
    /// copied into the checkpointer's copy, its dictionaries reused.</summary>
    [Benchmark]
    public long LiveStateCopyReused()
    {
        lock (_channel!.Sync)
        {
            return _channel.CaptureStateLocked(_state).PendingCount;
        }
    }

    /// <summary>The checkpoint's work under the lock now: the op buffer swapped for the spare one.</summary>
    [Benchmark]
    public int CheckpointLockedStep()
    {
        lock (_channel!.Sync)
        {
            _channel.Ops.Add(CursorOp.Finish(0, 1));
            return _channel.Ops.Swap(ref _spare);
        }
    }

    /// <summary>Off the lock, when the ops file has grown past a snapshot's size: that many entries written (tmpfs).</summary>
    [Benchmark]
    public void SnapshotWrite() => ChannelCheckpoint.Write(Path.Combine(_dataPath, "bench.cursor"), _written!, 1);

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dataPath, recursive: true);
    }
}
