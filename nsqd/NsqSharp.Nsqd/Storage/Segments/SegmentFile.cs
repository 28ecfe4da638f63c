using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// A segment's <c>.log</c> file, whose handle the <see cref="SegmentHandleCache"/> opens on demand and may close
/// whenever it is not leased. All mutable state is guarded by the cache's lock.
/// </summary>
internal sealed class SegmentFile
{
    private readonly SegmentHandleCache _cache;
    private volatile bool _writable;

    public SegmentFile(SegmentHandleCache cache, string path, bool writable)
    {
        _cache = cache;
        Path = path;
        _writable = writable;
        IdleNode = new LinkedListNode<SegmentFile>(this);
    }

    public string Path { get; }

    /// <summary>Reopened read-write (the active segment) or read-only (closed segments).</summary>
    public bool Writable
    {
        get => _writable;
        set => _writable = value;
    }

    // Cache state (guarded by the cache's lock).
    internal SafeFileHandle? Handle { get; set; }

    internal int Leases { get; set; }

    internal bool Closed { get; set; }

    internal long IdleSince { get; set; }

    internal LinkedListNode<SegmentFile> IdleNode { get; }

    /// <summary>Leases the handle (see <see cref="SegmentHandleCache"/>); dispose the lease exactly once.</summary>
    public SegmentLease Acquire() => _cache.Acquire(this);

    /// <summary>Installs the handle of the just-created file and leases it.</summary>
    public SegmentLease Adopt(SafeFileHandle handle) => _cache.Adopt(this, handle);

    /// <summary>Segment deleted or log closed: no further leases; the handle closes when the last lease ends.</summary>
    public void Close() => _cache.Close(this);

    internal void Release() => _cache.Release(this);

    internal SafeFileHandle OpenHandle() => File.OpenHandle(
        Path,
        FileMode.Open, // never create: a vanished segment is an error, not an empty file
        Writable ? FileAccess.ReadWrite : FileAccess.Read,
        FileShare.ReadWrite | FileShare.Delete);
}

/// <summary>A leased segment handle: valid (never closed underneath) until disposed.</summary>
internal readonly struct SegmentLease : IDisposable
{
    private readonly SegmentFile? _file;

    public SegmentLease(SegmentFile file, SafeFileHandle handle)
    {
        _file = file;
        Handle = handle;
    }

    public SafeFileHandle Handle { get; }

    public void Dispose() => _file?.Release();
}
