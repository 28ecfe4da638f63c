using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/*
 * PARTITION LOG — on-disk format and mechanics
 * ============================================
 *
 * Directory: data/<topic>/<partition>/
 *   <20-digit base offset>.log        record batches, back to back
 *   <20-digit base offset>.index      sparse offset index (written when the segment closes / on clean shutdown)
 *   <20-digit base offset>.timeindex  sparse time index (same points as .index)
 *   *.tmp                             AtomicFile leftovers from a crash; removed on open
 *
 * All integers are little-endian.
 *
 * Batch (one per append: PUB = 1 record, MPUB = N records, atomic):
 *   0  int64  baseOffset      offset of the first record      \  assigned by the writer (the leader); NOT covered
 *   8  int64  leaderEpoch     epoch of the leader that wrote it   |  by the CRC, so a follower can append a leader's
 *  16  int32  batchLength     total bytes, this header included  /   batch bytes verbatim and the writer stamps cheaply
 *  20  uint32 crc32c          CRC-32C of bytes [24, batchLength)
 *  24  uint16 magic           0x514E ("NQ")
 *  26  uint8  version         1
 *  27  uint8  attributes      0 (reserved: compression)
 *  28  int32  recordCount     >= 1
 *  32  int64  firstTimestamp  unix ns
 *  40  int64  maxTimestamp    unix ns
 *  48  records...
 * Record:
 *   0  int32  recordLength    total bytes of the record, this field included
 *   4  uint16 flags           0 (reserved)
 *   6  uint16 headersLength   0 today (reserved: trace id / extension headers), headers precede the body
 *   8  int64  timestampNs     publish time, unix ns
 *  16  int64  deliverAtMs     DPUB due time, unix ms (0 = immediately)
 *  24  headers[headersLength], body[recordLength - 24 - headersLength]
 * The CRC is computed by the publishing thread while encoding (in parallel with other publishers); the writer only
 * stamps baseOffset/leaderEpoch. A wrong batchLength is still caught because the CRC then covers the wrong bytes;
 * a wrong baseOffset is caught by continuity (every batch continues the previous one), see Corruption below.
 *
 * .index:     header 44 bytes [uint32 magic "NQIX", uint16 version 1, uint16 entrySize 8, int32 count,
 *             int32 relEndOffset (records in segment), int64 fileSize when written, int64 validSize,
 *             int64 maxTimestampNs, uint32 crc32c(header[0..40) ++ entries)] then entries
 *             [int32 relativeOffset, int32 filePosition]: one at the first batch that starts at least
 *             IndexIntervalBytes after the previous entry (position 0 is implicit).
 * .timeindex: header 16 bytes [uint32 magic "NQTI", uint16 version, uint16 entrySize 12, int32 count, uint32 crc]
 *             then entries [int64 maxTimestampNs, int32 relativeOffset] at the same points: every record before
 *             relativeOffset has timestamp <= maxTimestampNs.
 * Index files are written atomically (tmp + fsync + rename) when a segment rolls and for the active segment on
 * clean shutdown; the active segment's indexes otherwise live in memory only.
 *
 * Writing (group commit): AppendAsync encodes the batch (and its CRC) into a pooled buffer on the caller's thread
 * and queues it. One writer loop per partition takes ALL queued batches, stamps offsets/epoch, writes them with one
 * gather write (pwritev), fsyncs once (fdatasync), advances DurableOffset and completes every waiter. A batch that
 * would push the segment past SegmentBytes rolls first (old segment fsynced, its indexes written, new file created,
 * directory fsynced). Queued bytes are bounded by MaxPendingAppendBytes (appenders wait). In EveryN/Interval modes
 * appends complete after the write and fsync happens per SyncEvery/SyncTimeout. A failed write or fsync marks the
 * log unhealthy (Health) and fails that and every later append with IOException; reopen to recover.
 *
 * File handles: no log holds a descriptor of its own. Every segment file is opened on demand through the
 * SegmentHandleCache named in the options (nsqd: one per node, --max-open-segments), leased for one read or one
 * group commit (write + fdatasync through the same lease) and afterwards kept open only within the cache's budget
 * and idle timeout. Recovery reads through private handles closed at once, so an idle or empty log costs no fd.
 * A reader's lease keeps its handle valid even if retention deletes the segment meanwhile. One process per data
 * directory is enforced by DataDirectoryLock (nsqd's server); within the process Open refuses a directory twice.
 *
 * Reading: lock-free. Readers see [StartOffset, DurableOffset). Offset -> position: binary search of the in-memory
 * sparse index, then a BatchWalker from that entry: positional reads (pread) through a pooled window, every batch
 * verified (header, CRC, records) on the way. Each returned record's body and headers are copied into arrays of
 * their exact size, so a retained record pins only its own bytes. Offsets can jump (retention, corruption):
 * callers use each record's Offset.
 *
 * Corruption: offsets follow continuity (a batch starts at the previous batch's next offset; at an index entry,
 * the entry's offset), so a damaged baseOffset field loses nothing: it is reported and ignored. A damaged batch is
 * skipped and the walk resynchronises at the next valid batch: the one its length points to if that continues the
 * damaged batch's count, else the first position holding a valid batch (magic "NQ", plausible header, matching
 * CRC). After such a gap the next batch's own baseOffset is believed if it lies between the expected offset and the
 * next index entry, so exactly the damaged batch's offsets are lost. A batch whose CRC matches the bytes up to the
 * next valid batch has only a damaged length field and is read whole. Every damaged spot is counted once
 * (CorruptBatchesSkipped, CorruptMessagesSkipped, CorruptHeadersRepaired) and logged as an error, rate-limited.
 *
 * Recovery (Open): closed segments trust their index files when intact and matching the file size (the last
 * entry is cross-checked against the data); otherwise the segment is rescanned with the same walker and its
 * indexes rewritten. The last segment: if its index files match the file size (clean shutdown), only the tail
 * from the last index entry is scanned; otherwise the whole segment is. Damage followed by valid batches is skipped
 * as above (those batches were fsynced, i.e. acknowledged); only a tail holding no valid batch is a torn write and
 * is truncated (warning).
 *
 * Retention (EnforceRetention): whole closed segments, oldest first, by age (newest record older than
 * RetentionAge) or size (log bigger than RetentionBytes), never a segment holding offsets >= minAckFloor, unless
 * the log is bigger than HardLimitBytes, which deletes regardless and counts the unconsumed messages lost. When
 * only the active segment is left and it is eligible, the writer is asked to roll it so a later pass can delete it.
 */

/// <summary>
/// One topic partition: a segmented append-only log with group commit. Thread-safe: any number of concurrent
/// appenders and readers. See the comment at the top of this file for the on-disk format.
/// </summary>
public sealed partial class PartitionLog : IAsyncDisposable
{
    private const int ScratchBytes = 8192;
    private const long MaxReadBytes = 8 * 1024 * 1024;
    private const int MaxPooledRequests = 1024;

    // Directories of the logs open in this process: one log per partition (other processes are kept out by
    // the data directory's lock, see DataDirectoryLock).
    private static readonly HashSet<string> OpenDirectories = new(StringComparer.Ordinal);

    private readonly string _directory;
    private readonly PartitionLogOptions _options;
    private readonly ILogger _logger;
    private readonly SegmentHandleCache _handles;
    private readonly CorruptionLog _corruption;
    private readonly object _queueLock = new();
    private readonly object _segmentsLock = new();
    private readonly object _listenersLock = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly ConcurrentQueue<AppendRequest> _requestPool = new();
    private readonly Task _writerTask;
    private readonly long _syncTimeoutMs;

    private List<AppendRequest> _queue = new();
    private long _pendingBytes;
    private TaskCompletionSource? _spaceAvailable;
    private bool _disposing;
    private volatile bool _disposed;
    private Task? _disposeTask;

    private LogSegment[] _segments;
    private LogSegment _active;
    private long _endOffset;
    private long _durableOffset;
    private long _leaderEpoch;
    private long _syncCount;
    private long _writeCount;
    private long _hardLimitDeleted;
    private int _rollRequested;
    private int _pooledRequests;
    private volatile string? _health;
    private TaskCompletionSource _dataAvailable = NewSignal();
    private Action[] _dataListeners = [];

    // Writer-loop state (touched only by the writer loop).
    private long _unsyncedMessages;
    private bool _dirty;
    private long _lastSyncTick = Environment.TickCount64;

    private PartitionLog(string directory, int partition, PartitionLogOptions options, ILogger logger, SegmentHandleCache handles,
        CorruptionLog corruption, LogSegment[] segments)
    {
        _directory = directory;
        Partition = partition;
        _options = options;
        _logger = logger;
        _handles = handles;
        _corruption = corruption;
        _segments = segments;
        _active = segments[^1];
        _endOffset = _active.NextOffset;
        _durableOffset = _endOffset;
        _syncTimeoutMs = (long)Math.Clamp(options.SyncTimeout.TotalMilliseconds, 1, int.MaxValue);
        _writerTask = Task.Run(WriterLoopAsync);
    }

    public int Partition { get; }

    /// <summary>The directory holding this partition's files.</summary>
    public string Directory => _directory;

    /// <summary>Oldest retained offset.</summary>
    public long StartOffset => Volatile.Read(ref _segments)[0].BaseOffset;

    /// <summary>Next offset to assign: everything written to the file, including data not yet fsynced.</summary>
    public long EndOffset => Volatile.Read(ref _endOffset);

    /// <summary>Readers see [StartOffset, DurableOffset): fsynced data (EveryAppend) or written data (relaxed modes).</summary>
    public long DurableOffset => Volatile.Read(ref _durableOffset);

    /// <summary>Bytes in all segment files.</summary>
    public long SizeBytes
    {
        get
        {
            long total = 0;
            foreach (LogSegment segment in Volatile.Read(ref _segments))
            {
                total += segment.Size;
            }

            return total;
        }
    }

    /// <summary>Number of segment files.</summary>
    public int SegmentCount => Volatile.Read(ref _segments).Length;

    /// <summary>Unconsumed messages deleted because the log exceeded <see cref="PartitionLogOptions.HardLimitBytes"/>.</summary>
    public long HardLimitDeletedMessages => Interlocked.Read(ref _hardLimitDeleted);

    /// <summary>Damaged spots skipped while reading or recovering (a damaged batch, or a run of bytes holding no valid
    /// batch); each counted once per process however often it is read past. Logged as errors (rate-limited).</summary>
    public long CorruptBatchesSkipped => _corruption.BatchesSkipped;

    /// <summary>Messages lost in the damaged spots counted by <see cref="CorruptBatchesSkipped"/>.</summary>
    public long CorruptMessagesSkipped => _corruption.MessagesSkipped;

    /// <summary>Batches whose header fields not covered by the CRC (base offset, length) were damaged but whose records
    /// were read intact (offsets follow continuity); nothing lost, but the disk is corrupting data.</summary>
    public long CorruptHeadersRepaired => _corruption.HeadersRepaired;

    /// <summary>The file-descriptor budget this log's segment handles count against.</summary>
    public SegmentHandleCache HandleCache => _handles;

    /// <summary>fsyncs of segment data performed so far (group commits, rolls, flushes).</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>Group-commit writes performed so far (one gather write per group, per segment).</summary>
    public long WriteCount => Interlocked.Read(ref _writeCount);

    /// <summary>Leader epoch stamped into each new batch (0 standalone).</summary>
    public long LeaderEpoch
    {
        get => Interlocked.Read(ref _leaderEpoch);
        set => Interlocked.Exchange(ref _leaderEpoch, value);
    }

    /// <summary>Null while healthy; otherwise what failed (appends then fail with IOException until reopened).</summary>
    public string? Health => _health;

    public PartitionLogOptions Options => _options;

    /// <summary>Every segment, oldest first (tests and diagnostics).</summary>
    internal LogSegment[] Segments => Volatile.Read(ref _segments);

    /// <summary>The segment being appended to (tests and diagnostics).</summary>
    internal LogSegment ActiveSegment => Volatile.Read(ref _segments)[^1];

    // ------------------------------------------------------------------------------------------------ open

    /// <summary>Opens (creating if needed) the log in <paramref name="directory"/> and recovers it. See the file comment.</summary>
    public static PartitionLog Open(string directory, int partition, PartitionLogOptions options, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        directory = Path.GetFullPath(directory);
        lock (OpenDirectories)
        {
            if (!OpenDirectories.Add(directory))
            {
                throw new IOException($"partition log {directory} is already open");
            }
        }

        try
        {
            CreateDirectoryDurably(directory);
            LogSegment.TryDelete(Path.Combine(directory, ".lock")); // left by versions that locked every partition
            foreach (string tmp in System.IO.Directory.EnumerateFiles(directory, "*.tmp"))
            {
                LogSegment.TryDelete(tmp);
            }

            List<long> bases = ListSegmentBases(directory);
            RemoveOrphanIndexes(directory, bases);
            if (bases.Count == 0)
            {
                bases.Add(0);
            }

            SegmentHandleCache handles = options.HandleCache ?? SegmentHandleCache.Shared;
            var corruption = new CorruptionLog(logger);
            var segments = new LogSegment[bases.Count];
            for (int i = 0; i < bases.Count; i++)
            {
                bool last = i == bases.Count - 1;
                var segment = new LogSegment(directory, bases[i], handles, writable: last);
                segments[i] = segment;
                if (last)
                {
                    bool created = !File.Exists(segment.LogPath);
                    RecoverLastSegment(segment, options, corruption, logger);
                    if (created)
                    {
                        NativeFile.FlushDirectory(directory);
                    }
                }
                else
                {
                    RecoverClosedSegment(segment, bases[i + 1], options, corruption, logger);
                }
            }

            return new PartitionLog(directory, partition, options, logger, handles, corruption, segments);
        }
        catch
        {
            lock (OpenDirectories)
            {
                OpenDirectories.Remove(directory);
            }

            throw;
        }
    }

    /// <summary>Creates missing directories and fsyncs each new entry's parent so the path survives a power loss.</summary>
    private static void CreateDirectoryDurably(string directory)
    {
        var missing = new List<string>();
        for (string? d = directory; d is not null && !System.IO.Directory.Exists(d); d = Path.GetDirectoryName(d))
        {
            missing.Add(d);
        }

        if (missing.Count == 0)
        {
            return;
        }

        System.IO.Directory.CreateDirectory(directory);
        foreach (string created in missing)
        {
            if (Path.GetDirectoryName(created) is { } parent)
            {
                NativeFile.FlushDirectory(parent);
            }
        }
    }

    private static List<long> ListSegmentBases(string directory)
    {
        var bases = new List<long>();
        foreach (string file in System.IO.Directory.EnumerateFiles(directory, "*.log"))
        {
            if (TryParseBase(file, out long baseOffset))
            {
                bases.Add(baseOffset);
            }
        }

        bases.Sort();
        return bases;
    }

    private static bool TryParseBase(string file, out long baseOffset)
    {
        string name = Path.GetFileNameWithoutExtension(file);
        baseOffset = 0;
        return name.Length == 20
            && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset);
    }

    private static void RemoveOrphanIndexes(string directory, List<long> bases)
    {
        foreach (string pattern in (ReadOnlySpan<string>)["*.index", "*.timeindex"])
        {
            foreach (string file in System.IO.Directory.EnumerateFiles(directory, pattern))
            {
                if (TryParseBase(file, out long baseOffset) && bases.BinarySearch(baseOffset) < 0)
                {
                    LogSegment.TryDelete(file);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ append

    /// <summary>
    /// Appends one message. Completes when durable per <see cref="PartitionLogOptions.SyncMode"/>. The body is copied
    /// before this returns, so the caller may reuse its buffer at once. Cancellation is honored only while waiting
    /// for queue space (backpressure); once queued, the append happens.
    /// </summary>
    public ValueTask<AppendResult> AppendAsync(ReadOnlyMemory<byte> body, long deliverAtMs, CancellationToken ct = default)
    {
        long size = (long)LogFormat.BatchHeaderSize + LogFormat.RecordHeaderSize + body.Length;
        if (size > PartitionLogOptions.MaxBatchBytes)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException($"message of {body.Length} bytes exceeds the batch limit", nameof(body)));
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)size);
        int length = LogFormat.EncodeBatch(buffer, null, body.Span, LogFormat.NowUnixNs(), deliverAtMs);
        return Enqueue(buffer, length, 1, ct);
    }

    /// <summary>
    /// Appends several messages atomically as one batch (MPUB): contiguous offsets, all or nothing on disk.
    /// Same completion rules as <see cref="AppendAsync"/>.
    /// </summary>
    public ValueTask<AppendResult> AppendBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> bodies, long deliverAtMs, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        int count = bodies.Count;
        if (count == 0)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException("a batch needs at least one message", nameof(bodies)));
        }

        long size = LogFormat.BatchHeaderSize;
        for (int i = 0; i < count; i++)
        {
            size += LogFormat.RecordHeaderSize + bodies[i].Length;
        }

        if (size > PartitionLogOptions.MaxBatchBytes)
        {
            return ValueTask.FromException<AppendResult>(new ArgumentException($"batch of {size} bytes exceeds the limit of {PartitionLogOptions.MaxBatchBytes}", nameof(bodies)));
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)size);
        int length = LogFormat.EncodeBatch(buffer, bodies, default, LogFormat.NowUnixNs(), deliverAtMs);
        return Enqueue(buffer, length, count, ct);
    }

    /// <summary>fsyncs everything appended before this call (in any mode). Completes after the fsync.</summary>
    public ValueTask FlushAsync()
    {
        AppendRequest request = RentRequest();
        request.Buffer = null;
        request.IsFlush = true;
        request.Length = 0;
        request.Count = 0;
        lock (_queueLock)
        {
            if (_disposing)
            {
                ReturnRequest(request);
                return ValueTask.FromException(new ObjectDisposedException(nameof(PartitionLog)));
            }

            _queue.Add(request);
            if (_queue.Count == 1)
            {
                _signal.Release();
            }
        }

        return new ValueTask(request, request.Version);
    }

    private ValueTask<AppendResult> Enqueue(byte[] buffer, int length, int count, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.FromCanceled<AppendResult>(ct);
        }

        AppendRequest request = RentRequest();
        request.Buffer = buffer;
        request.IsFlush = false;
        request.Length = length;
        request.Count = count;
        Exception? error = null;
        bool wait = false;
        lock (_queueLock)
        {
            error = RefuseReason();
            if (error is null)
            {
                if (_pendingBytes > 0 && _pendingBytes + length > _options.MaxPendingAppendBytes)
                {
                    wait = true;
                }
                else
                {
                    _queue.Add(request);
                    _pendingBytes += length;
                    if (_queue.Count == 1)
                    {
                        _signal.Release();
                    }
                }
            }
        }

        if (error is not null)
        {
            request.Buffer = null;
            ReturnRequest(request);
            ArrayPool<byte>.Shared.Return(buffer);
            return ValueTask.FromException<AppendResult>(error);
        }

        return wait ? EnqueueSlowAsync(request, ct) : new ValueTask<AppendResult>(request, request.Version);
    }

    private async ValueTask<AppendResult> EnqueueSlowAsync(AppendRequest request, CancellationToken ct)
    {
        int length = request.Length;
        while (true)
        {
            Task space;
            lock (_queueLock)
            {
                Exception? error = RefuseReason();
                if (error is not null)
                {
                    ArrayPool<byte>.Shared.Return(request.Buffer!);
                    request.Buffer = null;
                    ReturnRequest(request);
                    throw error;
                }

                if (_pendingBytes == 0 || _pendingBytes + length <= _options.MaxPendingAppendBytes)
                {
                    _queue.Add(request);
                    _pendingBytes += length;
                    if (_queue.Count == 1)
                    {
                        _signal.Release();
                    }

                    break;
                }

                _spaceAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                space = _spaceAvailable.Task;
            }

            try
            {
                await space.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ArrayPool<byte>.Shared.Return(request.Buffer!);
                request.Buffer = null;
                ReturnRequest(request);
                throw;
            }
        }

        return await new ValueTask<AppendResult>(request, request.Version).ConfigureAwait(false);
    }

    /// <summary>Under _queueLock: why an append must be refused now, or null.</summary>
    private Exception? RefuseReason()
    {
        if (_disposing)
        {
            return new ObjectDisposedException(nameof(PartitionLog));
        }

        string? health = _health;
        return health is null ? null : new IOException($"partition log {_directory} is unhealthy: {health}");
    }

    private AppendRequest RentRequest()
    {
        if (_requestPool.TryDequeue(out AppendRequest? request))
        {
            Interlocked.Decrement(ref _pooledRequests);
            return request;
        }

        return new AppendRequest(this);
    }

    internal void ReturnRequest(AppendRequest request)
    {
        request.Buffer = null;
        if (Interlocked.Increment(ref _pooledRequests) <= MaxPooledRequests)
        {
            _requestPool.Enqueue(request);
        }
        else
        {
            Interlocked.Decrement(ref _pooledRequests);
        }
    }

    // ------------------------------------------------------------------------------------------------ writer loop

    private bool Relaxed => _options.SyncMode != SyncMode.EveryAppend;

    private async Task WriterLoopAsync()
    {
        var group = new List<AppendRequest>();
        var gather = new List<ReadOnlyMemory<byte>>();
        while (true)
        {
            int timeout = Timeout.Infinite;
            if (_dirty && Relaxed)
            {
                long due = _lastSyncTick + _syncTimeoutMs - Environment.TickCount64;
                timeout = (int)Math.Clamp(due, 0, int.MaxValue);
            }

            if (timeout == 0)
            {
                _ = _signal.Wait(0);
            }
            else
            {
                _ = await _signal.WaitAsync(timeout).ConfigureAwait(false);
            }

            bool disposing;
            lock (_queueLock)
            {
                (_queue, group) = (group, _queue);
                disposing = _disposing;
            }

            if (group.Count > 0)
            {
                ProcessGroup(group, gather);
                group.Clear();
            }

            if (_dirty && Relaxed && Environment.TickCount64 - _lastSyncTick >= _syncTimeoutMs)
            {
                TrySyncIdle();
            }

            if (Interlocked.Exchange(ref _rollRequested, 0) == 1 && _health is null && _active.Size > 0)
            {
                try
                {
                    using SegmentLease lease = _active.File.Acquire();
                    _ = Roll(_active, lease.Handle, Volatile.Read(ref _endOffset), out SegmentLease rolled);
                    rolled.Dispose();
                }
                catch (Exception e)
                {
                    MarkUnhealthy("segment roll failed", e);
                }
            }

            if (disposing)
            {
                lock (_queueLock)
                {
                    if (_queue.Count == 0)
                    {
                        break;
                    }
                }
            }
        }

        if (_dirty)
        {
            TrySyncIdle();
        }
    }

    private void TrySyncIdle()
    {
        if (_health is not null)
        {
            return;
        }

        SegmentLease lease;
        try
        {
            lease = _active.File.Acquire();
        }
        catch (Exception e) when (IsTransientOpenFailure(e))
        {
            // The data is written; only its fsync waits. Try again after another sync timeout.
            _logger.LogWarning("partition log {Directory}: cannot open the active segment to fsync it ({Error}); retrying", _directory, e.Message);
            _lastSyncTick = Environment.TickCount64;
            return;
        }
        catch (Exception e)
        {
            MarkUnhealthy("fsync failed", e);
            return;
        }

        try
        {
            // fdatasync through a new descriptor still flushes everything written to the file through an evicted one,
            // and Linux reports a writeback error to it if no descriptor has seen it yet.
            SyncActive(lease.Handle);
        }
        catch (Exception e)
        {
            MarkUnhealthy("fsync failed", e);
        }
        finally
        {
            lease.Dispose();
        }
    }

    /// <summary>
    /// Opening a segment can fail for want of descriptors (EMFILE/ENFILE) or memory: nothing was written, so only the
    /// operation at hand fails and the log stays healthy. A segment file that vanished, or lost permissions, is not
    /// transient: the log is marked unhealthy.
    /// </summary>
    private static bool IsTransientOpenFailure(Exception e) =>
        e is IOException and not (FileNotFoundException or DirectoryNotFoundException);

    private void SyncActive(SafeFileHandle handle)
    {
        NativeFile.FlushData(handle);
        Interlocked.Increment(ref _syncCount);
        _dirty = false;
        _unsyncedMessages = 0;
        _lastSyncTick = Environment.TickCount64;
    }

    private void ProcessGroup(List<AppendRequest> group, List<ReadOnlyMemory<byte>> gather)
    {
        long groupBytes = 0;
        foreach (AppendRequest request in group)
        {
            groupBytes += request.Length;
        }

        bool forceSync = false;
        int completed = 0;
        SegmentLease lease = default;
        bool opening = false;
        bool leased = false;
        try
        {
            if (_health is not null)
            {
                throw new IOException($"partition log {_directory} is unhealthy: {_health}");
            }

            LogSegment segment = _active;

            // The write and the fsync that acknowledges it go through this one lease (the handle cannot be evicted
            // in between); after the group the handle goes back to the cache, which may close it while idle.
            opening = true;
            lease = segment.File.Acquire();
            opening = false;
            leased = true;
            long position = segment.Size;
            long writeStart = position;
            long next = Volatile.Read(ref _endOffset);
            long epoch = LeaderEpoch;
            long segmentLimit = _options.SegmentBytes;
            int indexInterval = _options.IndexIntervalBytes;
            long messages = 0;
            gather.Clear();

            for (int i = 0; i < group.Count; i++)
            {
                AppendRequest request = group[i];
                if (request.IsFlush)
                {
                    forceSync = true;
                    continue;
                }

                if (position > 0 && position + request.Length > segmentLimit)
                {
                    WriteGathered(lease.Handle, writeStart, gather);
                    segment.Size = position;
                    segment.NextOffset = next;
                    Volatile.Write(ref _endOffset, next);
                    segment = Roll(segment, lease.Handle, next, out SegmentLease rolled);
                    SegmentLease old = lease;
                    lease = rolled;
                    old.Dispose();
                    position = 0;
                    writeStart = 0;
                }

                byte[] buffer = request.Buffer!;
                LogFormat.StampBatch(buffer, next, epoch);
                var header = new BatchHeader(buffer.AsSpan(0, LogFormat.BatchHeaderSize));
                segment.OnBatch(position, next, request.Length, header.MaxTimestampNs, indexInterval);
                request.FirstOffset = next;
                gather.Add(new ReadOnlyMemory<byte>(buffer, 0, request.Length));
                position += request.Length;
                next += request.Count;
                messages += request.Count;
            }

            WriteGathered(lease.Handle, writeStart, gather);
            segment.Size = position;
            segment.NextOffset = next;
            Volatile.Write(ref _endOffset, next);
            ReturnBuffers(group);

            _unsyncedMessages += messages;
            _dirty |= messages > 0;
            bool sync = _dirty && (_options.SyncMode == SyncMode.EveryAppend
                || forceSync
                || (_options.SyncMode == SyncMode.EveryN && _unsyncedMessages >= _options.SyncEvery)
                || Environment.TickCount64 - _lastSyncTick >= _syncTimeoutMs);
            if (sync)
            {
                SyncActive(lease.Handle);
            }

            // Publish: segment bytes first, then the offset readers bound themselves by, then wake readers.
            segment.ReadableSize = position;
            if (next != Volatile.Read(ref _durableOffset))
            {
                Volatile.Write(ref _durableOffset, next);
                Interlocked.Exchange(ref _dataAvailable, NewSignal()).TrySetResult();
                NotifyDataListeners();
            }

            for (; completed < group.Count; completed++)
            {
                AppendRequest request = group[completed];
                request.SetResult(request.IsFlush ? default : new AppendResult(request.FirstOffset, request.Count));
            }
        }
        catch (Exception e) when (opening && IsTransientOpenFailure(e))
        {
            // Nothing was written: fail this group only (publishers see an error and may retry).
            _logger.LogError("partition log {Directory}: cannot open the active segment: {Error}", _directory, e.Message);
            ReturnBuffers(group);
            var error = new IOException($"partition log {_directory}: cannot open the active segment: {e.Message}", e);
            for (; completed < group.Count; completed++)
            {
                group[completed].SetException(error);
            }
        }
        catch (Exception e)
        {
            // Any failure here (I/O or a bug) must fail the waiters rather than kill the writer loop.
            if (_health is null)
            {
                MarkUnhealthy("write failed", e);
            }

            ReturnBuffers(group);
            Volatile.Write(ref _endOffset, Volatile.Read(ref _durableOffset));
            var error = new IOException($"partition log {_directory}: {_health}", e);
            for (; completed < group.Count; completed++)
            {
                group[completed].SetException(error);
            }
        }
        finally
        {
            if (leased)
            {
                lease.Dispose();
            }

            TaskCompletionSource? space = null;
            lock (_queueLock)
            {
                _pendingBytes -= groupBytes;
                if (_spaceAvailable is not null)
                {
                    space = _spaceAvailable;
                    _spaceAvailable = null;
                }
            }

            space?.TrySetResult();
        }
    }

    private static void ReturnBuffers(List<AppendRequest> group)
    {
        foreach (AppendRequest request in group)
        {
            if (request.Buffer is { } buffer)
            {
                request.Buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private void WriteGathered(SafeFileHandle handle, long position, List<ReadOnlyMemory<byte>> gather)
    {
        if (gather.Count == 0)
        {
            return;
        }

        if (gather.Count == 1)
        {
            RandomAccess.Write(handle, gather[0].Span, position);
        }
        else
        {
            RandomAccess.Write(handle, gather, position);
        }

        gather.Clear();
        Interlocked.Increment(ref _writeCount);
    }

    /// <summary>
    /// Writer only: closes <paramref name="old"/> (fsync through <paramref name="oldHandle"/>, index files) and starts a
    /// segment at <paramref name="baseOffset"/>, returning it with a lease on its new file.
    /// </summary>
    private LogSegment Roll(LogSegment old, SafeFileHandle oldHandle, long baseOffset, out SegmentLease lease)
    {
        NativeFile.FlushData(oldHandle);
        Interlocked.Increment(ref _syncCount);
        old.ReadableSize = old.Size;
        old.NextOffset = baseOffset;
        old.WriteIndexes(old.Size);
        old.File.Writable = false; // reopened read-only from now on

        var segment = new LogSegment(_directory, baseOffset, _handles, writable: true);
        SafeFileHandle handle = File.OpenHandle(segment.LogPath, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            NativeFile.FlushDirectory(_directory);
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        segment.NextOffset = baseOffset;
        lease = segment.File.Adopt(handle);
        lock (_segmentsLock)
        {
            LogSegment[] current = _segments;
            var grown = new LogSegment[current.Length + 1];
            Array.Copy(current, grown, current.Length);
            grown[^1] = segment;
            Volatile.Write(ref _segments, grown);
            _active = segment;
        }

        _logger.LogDebug("partition log {Directory}: rolled to segment {Base}", _directory, baseOffset);
        return segment;
    }

    // ------------------------------------------------------------------------------------------------ data listeners

    /// <summary>
    /// Registers a callback run on the writer thread each time <see cref="DurableOffset"/> advances. It must be
    /// cheap and never block (a channel cursor sets its fill loop's wake-up). Long-lived readers use this instead
    /// of racing <see cref="WaitForDataAsync"/> against their other wake-ups, which would stack continuations.
    /// </summary>
    public void AddDataListener(Action listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_listenersLock)
        {
            Action[] current = _dataListeners;
            var grown = new Action[current.Length + 1];
            Array.Copy(current, grown, current.Length);
            grown[^1] = listener;
            Volatile.Write(ref _dataListeners, grown);
        }
    }

    /// <summary>Removes a callback added by <see cref="AddDataListener"/>.</summary>
    public void RemoveDataListener(Action listener)
    {
        lock (_listenersLock)
        {
            Action[] current = _dataListeners;
            int index = Array.IndexOf(current, listener);
            if (index < 0)
            {
                return;
            }

            var shrunk = new Action[current.Length - 1];
            Array.Copy(current, 0, shrunk, 0, index);
            Array.Copy(current, index + 1, shrunk, index, current.Length - index - 1);
            Volatile.Write(ref _dataListeners, shrunk);
        }
    }

    private void NotifyDataListeners()
    {
        foreach (Action listener in Volatile.Read(ref _dataListeners))
        {
            try
            {
                listener();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "partition log {Directory}: data listener failed", _directory);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ retention

    /// <summary>
    /// Deletes whole closed segments, oldest first, per the retention options. Never deletes a segment holding
    /// offsets &gt;= <paramref name="minAckFloor"/> unless <see cref="PartitionLogOptions.HardLimitBytes"/> is exceeded.
    /// Returns the number of segments deleted.
    /// </summary>
    public int EnforceRetention(long minAckFloor, DateTimeOffset now)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        PartitionLogOptions o = _options;
        if (o.RetentionAge <= TimeSpan.Zero && o.RetentionBytes <= 0 && o.HardLimitBytes <= 0)
        {
            return 0;
        }

        long ageCutoffNs = o.RetentionAge > TimeSpan.Zero
            ? (now - o.RetentionAge).ToUnixTimeMilliseconds() * 1_000_000
            : long.MinValue;
        List<LogSegment>? doomed = null;
        bool wantRoll = false;
        lock (_segmentsLock)
        {
            LogSegment[] segments = _segments;
            long total = 0;
            foreach (LogSegment s in segments)
            {
                total += s.Size;
            }

            int first = 0;
            for (; first < segments.Length - 1; first++)
            {
                LogSegment segment = segments[first];
                long segmentEnd = segments[first + 1].BaseOffset;
                bool hard = o.HardLimitBytes > 0 && total > o.HardLimitBytes;
                bool soft = segmentEnd <= minAckFloor
                    && ((o.RetentionAge > TimeSpan.Zero && segment.MaxTimestampNs < ageCutoffNs)
                        || (o.RetentionBytes > 0 && total > o.RetentionBytes));
                if (!hard && !soft)
                {
                    break;
                }

                if (!soft)
                {
                    long lost = segmentEnd - Math.Max(segment.BaseOffset, minAckFloor);
                    if (lost > 0)
                    {
                        Interlocked.Add(ref _hardLimitDeleted, lost);
                        _logger.LogWarning(
                            "partition log {Directory}: size {Size} exceeds the hard limit {Limit}; deleting segment {Base} with {Lost} unconsumed messages",
                            _directory, total, o.HardLimitBytes, segment.BaseOffset, lost);
                    }
                }

                (doomed ??= new List<LogSegment>()).Add(segment);
                total -= segment.Size;
            }

            if (first > 0)
            {
                Volatile.Write(ref _segments, segments[first..]);
            }

            // Only the active segment left and it is itself eligible: have the writer roll it so a later pass can delete it.
            if (first == segments.Length - 1)
            {
                LogSegment active = segments[^1];
                if (active.Size > 0)
                {
                    bool hard = o.HardLimitBytes > 0 && total > o.HardLimitBytes;
                    bool soft = active.NextOffset <= minAckFloor
                        && ((o.RetentionAge > TimeSpan.Zero && active.MaxTimestampNs < ageCutoffNs)
                            || (o.RetentionBytes > 0 && total > o.RetentionBytes));
                    wantRoll = hard || soft;
                }
            }
        }

        if (doomed is not null)
        {
            foreach (LogSegment segment in doomed)
            {
                segment.Delete();
                _logger.LogInformation("partition log {Directory}: retention deleted segment {Base}", _directory, segment.BaseOffset);
            }
        }

        if (wantRoll && Interlocked.Exchange(ref _rollRequested, 1) == 0)
        {
            _signal.Release();
        }

        return doomed?.Count ?? 0;
    }

    // ------------------------------------------------------------------------------------------------ close

    /// <summary>Drains queued appends, fsyncs, writes the active segment's indexes and closes every file.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_queueLock)
        {
            if (_disposeTask is null)
            {
                _disposing = true;
                _signal.Release();
                _disposeTask = DisposeCoreAsync();
            }

            return new ValueTask(_disposeTask);
        }
    }

    private async Task DisposeCoreAsync()
    {
        await _writerTask.ConfigureAwait(false);
        TaskCompletionSource? space;
        lock (_queueLock)
        {
            space = _spaceAvailable;
            _spaceAvailable = null;
        }

        space?.TrySetResult();
        lock (_segmentsLock)
        {
            _disposed = true;
            if (_health is null)
            {
                try
                {
                    _active.WriteIndexes(_active.Size);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _logger.LogWarning(e, "partition log {Directory}: could not write the active segment's index; it will be rebuilt on open", _directory);
                }
            }

            foreach (LogSegment segment in _segments)
            {
                segment.File.Close(); // a racing reader's lease keeps its handle until it is done
            }
        }

        lock (OpenDirectories)
        {
            OpenDirectories.Remove(_directory);
        }

        _dataAvailable.TrySetException(new ObjectDisposedException(nameof(PartitionLog)));

        // _signal is deliberately not disposed: a racing EnforceRetention may still Release it (harmless).
    }

    /// <summary>Removes a (closed) partition log's directory and everything in it (topic delete).</summary>
    public static void DeleteFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.Delete(directory, recursive: true);
            string? parent = Path.GetDirectoryName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
            if (parent is not null && System.IO.Directory.Exists(parent))
            {
                NativeFile.FlushDirectory(parent);
            }
        }
    }

    private void MarkUnhealthy(string what, Exception e)
    {
        _health = $"{what}: {e.Message}";
        _logger.LogError(e, "partition log {Directory}: {What}; appends will fail until it is reopened", _directory, what);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
