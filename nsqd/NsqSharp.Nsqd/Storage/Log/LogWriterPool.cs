using System.Collections.Concurrent;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// A small fixed set of dedicated threads that run the writers of every partition log sharing it (nsqd: all of a
/// node's). A log's writer does blocking work (gather write, fdatasync, segment roll, truncation); on the thread pool
/// that would starve request handling under many partitions, and a thread per partition is too many with thousands.
/// <para>
/// Scheduling: a log with work (an append queued into its empty queue, a roll request, its relaxed-sync timer, close)
/// enqueues itself here once (its turn state goes idle → scheduled). A thread takes it and runs one turn: it drains
/// the log's whole queue and commits it as one group (one write and one fdatasync per segment touched), then the log
/// goes idle again; if more work arrived meanwhile it is scheduled again. So each log has at most one turn in flight
/// (a single writer) while the threads serve any number of logs. A busy log runs another turn at once when no other
/// log is waiting; otherwise it goes to the back of the queue, so one hot partition cannot hold a thread while others
/// wait. The pool bounds concurrent fsyncs to its thread count.
/// </para>
/// </summary>
public sealed class LogWriterPool : IDisposable
{
    private readonly ConcurrentQueue<PartitionLog> _ready = new();
    // Not a SemaphoreSlim: its Wait spins (sched_yield) before it blocks, and with a few writer threads per process
    // and several processes on a small machine that spinning cost ~15% of broker CPU under load (perf, replicated
    // writer benchmark). A writer wakes once per turn, so a plain monitor wait is cheap enough.
    private readonly object _gate = new();
    private int _permits;
    private readonly Thread[] _threads;
    private volatile bool _stopping;

    /// <param name="threads">Writer threads; each blocks in write/fdatasync, so more than the core count can help
    /// storage that completes concurrent fsyncs in parallel.</param>
    /// <param name="name">Thread name prefix (shows in dumps and traces).</param>
    public LogWriterPool(int threads, string name = "log-writer")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentException.ThrowIfNullOrEmpty(name);
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run)
            {
                IsBackground = true,
                Name = $"{name}-{i}",
            };
            _threads[i].Start();
        }
    }

    /// <summary>Default size: the processor count, at least 4 (writers mostly wait on the disk, not the CPU).</summary>
    public static int DefaultThreadCount => Math.Max(4, Environment.ProcessorCount);

    /// <summary>Used by logs whose options name no pool (the process's nsqd included).</summary>
    public static LogWriterPool Shared { get; } = new(DefaultThreadCount, "nsq-log-writer");

    public int ThreadCount => _threads.Length;

    /// <summary>Logs with a turn waiting for a thread (diagnostics).</summary>
    public int QueuedLogs => _ready.Count;

    internal void Schedule(PartitionLog log)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        _ready.Enqueue(log);
        Release(1);
    }

    private void Release(int count)
    {
        lock (_gate)
        {
            _permits += count;
            if (count == 1)
            {
                Monitor.Pulse(_gate);
            }
            else
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void WaitForPermit()
    {
        lock (_gate)
        {
            while (_permits == 0)
            {
                Monitor.Wait(_gate);
            }

            _permits--;
        }
    }

    private void Run()
    {
        while (true)
        {
            WaitForPermit();
            if (!_ready.TryDequeue(out PartitionLog? log))
            {
                if (_stopping)
                {
                    return;
                }

                continue;
            }

            // RunWriterTurn is true when the log got more work during its turn and this thread owns its next turn.
            while (log.RunWriterTurn())
            {
                if (!_ready.IsEmpty)
                {
                    _ready.Enqueue(log);
                    Release(1);
                    break;
                }
            }
        }
    }

    /// <summary>Stops the threads once the queue is empty. Dispose only a pool whose logs are all disposed.</summary>
    public void Dispose()
    {
        if (ReferenceEquals(this, Shared) || _stopping)
        {
            return;
        }

        _stopping = true;
        Release(_threads.Length);
        foreach (Thread thread in _threads)
        {
            thread.Join();
        }
    }
}
