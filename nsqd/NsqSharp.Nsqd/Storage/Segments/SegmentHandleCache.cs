using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// The file-descriptor budget of every partition log sharing it (nsqd: one per node, --max-open-segments).
/// Segment files are opened on demand and leased for one read or one group commit; an unleased handle stays
/// open for reuse only while fewer than <see cref="Budget"/> are open (least recently used closed first) and
/// at most <see cref="IdleTimeout"/>. So an idle log holds no descriptor, and thousands of logs hold at most
/// the budget. A lease is never revoked: if every open handle is leased, the budget is exceeded until leases end
/// (each lasts one read or one write + fsync, so that is bounded by concurrent I/O, not by the number of logs).
/// </summary>
public sealed class SegmentHandleCache
{
    /// <summary>Default budget: far below common fd limits, far above the partitions a node writes at once.</summary>
    public const int DefaultBudget = 1024;

    private readonly object _lock = new();
    private readonly LinkedList<SegmentFile> _idle = new(); // open and unleased, most recently released first
    private readonly long _idleTimeoutMs;
    private Timer? _sweeper;
    private int _open;
    private long _opened;
    private long _evicted;

    public SegmentHandleCache(int budget, TimeSpan? idleTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        TimeSpan idle = idleTimeout ?? TimeSpan.FromMinutes(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(idle, TimeSpan.Zero, nameof(idleTimeout));
        Budget = budget;
        IdleTimeout = idle;
        _idleTimeoutMs = (long)Math.Clamp(idle.TotalMilliseconds, 1, int.MaxValue);
    }

    /// <summary>Used by logs whose options name no cache.</summary>
    public static SegmentHandleCache Shared { get; } = new(DefaultBudget);

    /// <summary>Most handles kept open (leases in progress excepted).</summary>
    public int Budget { get; }

    /// <summary>An unleased handle is closed after this long unused.</summary>
    public TimeSpan IdleTimeout { get; }

    /// <summary>Segment file handles open now (leased or idle).</summary>
    public int OpenHandles => Volatile.Read(ref _open);

    /// <summary>Segment files opened so far (reopens after eviction included).</summary>
    public long HandlesOpened => Interlocked.Read(ref _opened);

    /// <summary>Idle handles closed so far to stay within the budget or the idle timeout.</summary>
    public long HandlesEvicted => Interlocked.Read(ref _evicted);

    /// <summary>Leases the file's handle, opening it (and closing the least recently used idle ones) if needed.
    /// Throws ObjectDisposedException once the file is closed (segment deleted or log disposed).</summary>
    internal SegmentLease Acquire(SegmentFile file)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(file.Closed, file);
            if (file.Handle is { } cached)
            {
                LeaseLocked(file);
                return new SegmentLease(file, cached);
            }
        }

        // open(2) outside the lock: other logs' reads and writes do not wait for it.
        SafeFileHandle opened = file.OpenHandle();
        return Install(file, opened, adopting: false);
    }

    /// <summary>Installs and leases the handle of a file just created by its owner (the writer rolling a segment).</summary>
    internal SegmentLease Adopt(SegmentFile file, SafeFileHandle handle) => Install(file, handle, adopting: true);

    private SegmentLease Install(SegmentFile file, SafeFileHandle opened, bool adopting)
    {
        SafeFileHandle? surplus = null;
        List<SafeFileHandle>? victims = null;
        SafeFileHandle handle = opened;
        bool closed = false;
        lock (_lock)
        {
            if (file.Closed)
            {
                surplus = opened;
                closed = true;
            }
            else if (file.Handle is { } raced)
            {
                surplus = opened; // another thread opened it meanwhile
                handle = raced;
                LeaseLocked(file);
            }
            else
            {
                file.Handle = opened;
                _open++;
                if (!adopting)
                {
                    _opened++;
                }

                LeaseLocked(file);
                victims = TrimLocked(_open - Budget);
            }
        }

        CloseAll(victims);
        surplus?.Dispose();
        ObjectDisposedException.ThrowIf(closed, file);
        return new SegmentLease(file, handle);
    }

    internal void Release(SegmentFile file)
    {
        SafeFileHandle? close = null;
        lock (_lock)
        {
            if (--file.Leases > 0)
            {
                return;
            }

            if (file.Closed || _open > Budget)
            {
                close = file.Handle;
                file.Handle = null;
                _open--;
                if (!file.Closed)
                {
                    _evicted++;
                }
            }
            else
            {
                file.IdleSince = Environment.TickCount64;
                _idle.AddFirst(file.IdleNode);
                _sweeper ??= new Timer(static state => ((SegmentHandleCache)state!).Sweep(), this, SweepPeriod, SweepPeriod);
            }
        }

        close?.Dispose();
    }

    /// <summary>No new leases; the handle closes now, or when the last lease ends.</summary>
    internal void Close(SegmentFile file)
    {
        SafeFileHandle? close = null;
        lock (_lock)
        {
            if (file.Closed)
            {
                return;
            }

            file.Closed = true;
            if (file.Leases == 0 && file.Handle is not null)
            {
                close = file.Handle;
                file.Handle = null;
                _open--;
                _idle.Remove(file.IdleNode);
            }
        }

        close?.Dispose();
    }

    /// <summary>Closes every idle handle (tests, and callers that know they are done for a while).</summary>
    internal void CloseIdle()
    {
        List<SafeFileHandle>? victims;
        lock (_lock)
        {
            victims = TrimLocked(int.MaxValue);
        }

        CloseAll(victims);
    }

    private TimeSpan SweepPeriod => TimeSpan.FromMilliseconds(Math.Max(100, _idleTimeoutMs / 2));

    private void Sweep()
    {
        var victims = new List<SafeFileHandle>();
        lock (_lock)
        {
            long now = Environment.TickCount64;
            while (_idle.Last is { } oldest && now - oldest.Value.IdleSince >= _idleTimeoutMs)
            {
                victims.Add(EvictLocked(oldest));
            }

            if (_idle.Count == 0 && _sweeper is not null)
            {
                // Nothing left to age: stop ticking (and stop rooting this cache) until a handle goes idle again.
                _sweeper.Dispose();
                _sweeper = null;
            }
        }

        CloseAll(victims);
    }

    private void LeaseLocked(SegmentFile file)
    {
        if (file.Leases++ == 0 && file.IdleNode.List is not null)
        {
            _idle.Remove(file.IdleNode);
        }
    }

    /// <summary>Under the lock: detaches up to <paramref name="count"/> least recently used idle handles.</summary>
    private List<SafeFileHandle>? TrimLocked(int count)
    {
        List<SafeFileHandle>? victims = null;
        while (count-- > 0 && _idle.Last is { } oldest)
        {
            (victims ??= new List<SafeFileHandle>()).Add(EvictLocked(oldest));
        }

        return victims;
    }

    private SafeFileHandle EvictLocked(LinkedListNode<SegmentFile> node)
    {
        SegmentFile file = node.Value;
        _idle.Remove(node);
        SafeFileHandle handle = file.Handle!;
        file.Handle = null;
        _open--;
        _evicted++;
        return handle;
    }

    private static void CloseAll(List<SafeFileHandle>? handles)
    {
        if (handles is null)
        {
            return;
        }

        foreach (SafeFileHandle handle in handles)
        {
            handle.Dispose();
        }
    }
}
