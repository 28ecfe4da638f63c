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
 *   .lock                             held (flock, exclusive) while the log is open: one process per partition
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
 * stamps baseOffset/leaderEpoch. A wrong batchLength is still caught because the CRC then covers the wrong bytes,
 * and recovery checks that every batch's baseOffset continues the previous one.
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
 * Reading: lock-free. Readers see [StartOffset, DurableOffset). Offset -> position: binary search of the in-memory
 * sparse index, then a walk over batch headers, then one positional read (pread on the segment's shared handle)
 * into a buffer allocated per call; record bodies are slices of it. Every batch's CRC is checked when read; a
 * corrupt batch is logged once per segment and skipped (reading resumes at the next index entry, or the next
 * segment). Offsets can therefore jump (retention, corruption): callers use each record's Offset.
 *
 * Recovery (Open): closed segments trust their index files when intact and matching the file size (the last
 * entry is cross-checked against the data); otherwise the segment is rescanned (CRC-checked) and its indexes
 * rewritten; a corrupt batch inside an old segment is logged and the segment is read only up to it. The last
 * segment: if its index files match the file size (clean shutdown), only the tail from the last index entry is
 * scanned; otherwise the whole segment is scanned. The file is truncated at the first torn/corrupt batch (warning).
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
public sealed class PartitionLog : IAsyncDisposable
{
    private const int ScratchBytes = 8192;
    private const long MaxReadBytes = 8 * 1024 * 1024;
    private const int MaxPooledRequests = 1024;
    private const string LockFileName = ".lock";

    private readonly string _directory;
    private readonly PartitionLogOptions _options;
    private readonly ILogger _logger;
    private readonly SafeFileHandle _lockHandle;
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

    private PartitionLog(string directory, int partition, PartitionLogOptions options, ILogger logger, SafeFileHandle lockHandle, LogSegment[] segments)
    {
        _directory = directory;
        Partition = partition;
        _options = options;
        _logger = logger;
        _lockHandle = lockHandle;
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
        CreateDirectoryDurably(directory);

        SafeFileHandle lockHandle;
        try
        {
            lockHandle = File.OpenHandle(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"partition log {directory} is already open (by this or another process)", e);
        }

        var opened = new List<LogSegment>();
        try
        {
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

            for (int i = 0; i < bases.Count; i++)
            {
                bool last = i == bases.Count - 1;
                long nextBase = last ? long.MaxValue : bases[i + 1];
                string path = Path.Combine(directory, bases[i].ToString("D20", CultureInfo.InvariantCulture) + ".log");
                bool created = !File.Exists(path);
                SafeFileHandle handle = last
                    ? File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete)
                    : File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var segment = new LogSegment(directory, bases[i], handle);
                opened.Add(segment);
                if (created)
                {
                    NativeFile.FlushDirectory(directory);
                }

                if (last)
                {
                    RecoverLastSegment(segment, options, logger);
                }
                else
                {
                    RecoverClosedSegment(segment, nextBase, options, logger);
                }
            }

            return new PartitionLog(directory, partition, options, logger, lockHandle, opened.ToArray());
        }
        catch
        {
            foreach (LogSegment segment in opened)
            {
                segment.Handle.Dispose();
            }

            lockHandle.Dispose();
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

    private static void RecoverClosedSegment(LogSegment segment, long nextBase, PartitionLogOptions options, ILogger logger)
    {
        long length = RandomAccess.GetLength(segment.Handle);
        if (!segment.TryLoadIndexes(length))
        {
            segment.ResetIndexes();
            LogSegment.ScanResult scan = segment.Scan(0, segment.BaseOffset, length, options.IndexIntervalBytes);
            segment.Size = length;
            segment.ReadableSize = scan.ValidSize;
            segment.NextOffset = scan.NextOffset;
            if (scan.Problem is not null)
            {
                logger.LogError(
                    "partition log segment {Path}: {Problem} at byte {Position} of {Length}; offsets {From}..{To} in it are unreadable",
                    segment.LogPath, scan.Problem, scan.ValidSize, length, scan.NextOffset, nextBase - 1);
            }
            else
            {
                logger.LogInformation("partition log segment {Path}: index rebuilt", segment.LogPath);
            }

            segment.WriteIndexes(scan.ValidSize);
        }

        if (segment.NextOffset > nextBase)
        {
            logger.LogError("partition log segment {Path} ends at offset {End}, past the next segment's base {Next}; the overlap is ignored",
                segment.LogPath, segment.NextOffset, nextBase);
        }
    }

    private static void RecoverLastSegment(LogSegment segment, PartitionLogOptions options, ILogger logger)
    {
        long length = RandomAccess.GetLength(segment.Handle);
        long scanFrom = 0;
        long scanOffset = segment.BaseOffset;
        bool trusted = segment.TryLoadIndexes(length);
        if (trusted)
        {
            // Clean shutdown: the indexes describe this exact file. Verify only the tail after the last entry.
            ReadOnlySpan<TimeIndexEntry> times = segment.TimeIndex.Snapshot();
            ReadOnlySpan<OffsetIndexEntry> offsets = segment.OffsetIndex.Snapshot();
            if (offsets.Length > 0)
            {
                scanFrom = offsets[^1].Position;
                scanOffset = segment.BaseOffset + offsets[^1].RelOffset;
                segment.MaxTimestampNs = times[^1].MaxTimestampNs;
            }
            else
            {
                segment.MaxTimestampNs = long.MinValue;
            }
        }
        else
        {
            segment.ResetIndexes();
        }

        LogSegment.ScanResult scan = segment.Scan(scanFrom, scanOffset, length, options.IndexIntervalBytes);
        segment.NextOffset = scan.NextOffset;
        segment.Size = scan.ValidSize;
        segment.ReadableSize = scan.ValidSize;
        if (scan.Problem is not null)
        {
            logger.LogWarning(
                "partition log {Path}: {Problem} at byte {Position}; truncating {Bytes} bytes of torn/corrupt tail (log ends at offset {End})",
                segment.LogPath, scan.Problem, scan.ValidSize, length - scan.ValidSize, scan.NextOffset);
            RandomAccess.SetLength(segment.Handle, scan.ValidSize);
            NativeFile.FlushData(segment.Handle);
        }

        if (!trusted || scan.Problem is not null)
        {
            // The on-disk indexes (if any) no longer describe the file; they are rewritten on roll or clean close.
            segment.DeleteIndexFiles();
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
                    Roll(_active, Volatile.Read(ref _endOffset));
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

        try
        {
            SyncActive();
        }
        catch (Exception e)
        {
            MarkUnhealthy("fsync failed", e);
        }
    }

    private void SyncActive()
    {
        NativeFile.FlushData(_active.Handle);
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
        try
        {
            if (_health is not null)
            {
                throw new IOException($"partition log {_directory} is unhealthy: {_health}");
            }

            LogSegment segment = _active;
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
                    WriteGathered(segment, writeStart, gather);
                    segment.Size = position;
                    segment.NextOffset = next;
                    Volatile.Write(ref _endOffset, next);
                    segment = Roll(segment, next);
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

            WriteGathered(segment, writeStart, gather);
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
                SyncActive();
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

    private void WriteGathered(LogSegment segment, long position, List<ReadOnlyMemory<byte>> gather)
    {
        if (gather.Count == 0)
        {
            return;
        }

        if (gather.Count == 1)
        {
            RandomAccess.Write(segment.Handle, gather[0].Span, position);
        }
        else
        {
            RandomAccess.Write(segment.Handle, gather, position);
        }

        gather.Clear();
        Interlocked.Increment(ref _writeCount);
    }

    /// <summary>Writer only: closes <paramref name="old"/> (fsync, index files) and starts a segment at <paramref name="baseOffset"/>.</summary>
    private LogSegment Roll(LogSegment old, long baseOffset)
    {
        NativeFile.FlushData(old.Handle);
        Interlocked.Increment(ref _syncCount);
        old.ReadableSize = old.Size;
        old.NextOffset = baseOffset;
        old.WriteIndexes(old.Size);

        string path = Path.Combine(_directory, baseOffset.ToString("D20", CultureInfo.InvariantCulture) + ".log");
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var segment = new LogSegment(_directory, baseOffset, handle);
        segment.NextOffset = baseOffset;
        NativeFile.FlushDirectory(_directory);
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

    // ------------------------------------------------------------------------------------------------ read

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

    /// <summary>Completes when <see cref="DurableOffset"/> &gt; <paramref name="offset"/>. Faults with ObjectDisposedException once the log is disposed.</summary>
    public Task WaitForDataAsync(long offset, CancellationToken ct)
    {
        TaskCompletionSource signal = Volatile.Read(ref _dataAvailable);
        if (Volatile.Read(ref _durableOffset) > offset)
        {
            return Task.CompletedTask;
        }

        if (_disposed)
        {
            return Task.FromException(new ObjectDisposedException(nameof(PartitionLog)));
        }

        return ct.CanBeCanceled ? signal.Task.WaitAsync(ct) : signal.Task;
    }

    /// <summary>
    /// Appends to <paramref name="into"/> up to <paramref name="maxMessages"/> records from <paramref name="offset"/>
    /// (clamped up to <see cref="StartOffset"/>) below <see cref="DurableOffset"/>, stopping before the body bytes
    /// would exceed <paramref name="maxBytes"/> (at least one record is returned if any is available). Reads at
    /// most one segment per call. Bodies slice one buffer allocated for this call. Returns the number appended;
    /// 0 only when nothing is readable at or after the offset. Offsets may skip (retention, corruption).
    /// </summary>
    public int Read(long offset, int maxMessages, int maxBytes, List<LogRecord> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (maxMessages <= 0)
        {
            return 0;
        }

        byte[] scratch = ArrayPool<byte>.Shared.Rent(ScratchBytes);
        try
        {
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                long durable = Volatile.Read(ref _durableOffset);
                LogSegment[] segments = Volatile.Read(ref _segments);
                if (offset < segments[0].BaseOffset)
                {
                    offset = segments[0].BaseOffset;
                }

                if (offset >= durable)
                {
                    return 0;
                }

                int index = FindSegment(segments, offset);
                LogSegment segment = segments[index];
                long segmentEnd = index + 1 < segments.Length ? segments[index + 1].BaseOffset : long.MaxValue;
                long bound = Math.Min(durable, segmentEnd);
                long resume;
                int added;
                try
                {
                    added = ReadSegment(segment, offset, bound, maxMessages, maxBytes, into, scratch, out resume);
                }
                catch (ObjectDisposedException) when (!_disposed)
                {
                    continue; // segment deleted by retention meanwhile: retry from the new start
                }

                if (added > 0)
                {
                    return added;
                }

                // Nothing readable at offset in this segment (end reached, gap, or corruption): move on.
                if (resume <= offset)
                {
                    resume = segmentEnd != long.MaxValue ? segmentEnd : durable;
                }

                offset = resume;
            }

            return 0;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static int FindSegment(LogSegment[] segments, long offset)
    {
        int lo = 0;
        int hi = segments.Length - 1;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi + 1) >> 1);
            if (segments[mid].BaseOffset <= offset)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private int ReadSegment(LogSegment segment, long offset, long bound, int maxMessages, int maxBytes, List<LogRecord> into, byte[] scratch, out long resume)
    {
        resume = -1;
        long limit = segment.ReadableSize;
        LocateStatus status = segment.Locate(offset, limit, scratch, out long position, out BatchHeader first);
        if (status == LocateStatus.End)
        {
            return 0;
        }

        if (status == LocateStatus.Corrupt)
        {
            resume = SkipCorruption(segment, position, "malformed batch header");
            return 0;
        }

        if (first.BaseOffset >= bound)
        {
            return 0;
        }

        // Size one read: the located batch plus an estimate of what the remaining wanted records need.
        long firstUseful = first.NextOffset - Math.Max(offset, first.BaseOffset);
        long stillWanted = maxMessages - firstUseful;
        long extra = 0;
        if (stillWanted > 0)
        {
            // Bytes per message as seen in this batch (batch header amortized), plus 25% and a little slack.
            long perMessage = (first.Length / first.Count) + 1;
            extra = Math.Min(
                (stillWanted * perMessage) + (stillWanted * perMessage / 4) + 256,
                (long)maxBytes + (Math.Min(stillWanted, 1 << 20) * LogFormat.RecordHeaderSize) + LogFormat.BatchHeaderSize);
            extra = Math.Clamp(extra, 0, MaxReadBytes);
        }

        int readLength = (int)Math.Min(limit - position, first.Length + extra);
        byte[] buffer = GC.AllocateUninitializedArray<byte>(readLength);
        int read = LogSegment.ReadFully(segment.Handle, buffer, position);

        int added = 0;
        long bodyBytes = 0;
        int p = 0;
        while (read - p >= LogFormat.BatchHeaderSize)
        {
            var header = new BatchHeader(buffer.AsSpan(p, LogFormat.BatchHeaderSize));
            if (!header.IsPlausible(read - p))
            {
                if (p == 0)
                {
                    resume = SkipCorruption(segment, position, "malformed batch");
                }

                break; // a partial batch at the end of the buffer: the next call reads it
            }

            if (header.BaseOffset >= bound)
            {
                break;
            }

            ReadOnlySpan<byte> batch = buffer.AsSpan(p, header.Length);
            if (!LogFormat.CrcMatches(batch))
            {
                if (added == 0)
                {
                    resume = SkipCorruption(segment, position + p, "CRC mismatch");
                }

                break;
            }

            var records = new RecordReader(batch, header.Count);
            while (records.MoveNext(out int bodyStart, out int bodyLength, out int headersStart, out int headersLength, out long timestampNs, out long deliverAtMs, out ushort flags))
            {
                long recordOffset = header.BaseOffset + records.Index - 1;
                if (recordOffset < offset)
                {
                    continue;
                }

                if (recordOffset >= bound || (added > 0 && bodyBytes + bodyLength > maxBytes))
                {
                    return added;
                }

                into.Add(new LogRecord(
                    recordOffset,
                    timestampNs,
                    deliverAtMs,
                    new ReadOnlyMemory<byte>(buffer, p + bodyStart, bodyLength),
                    headersLength == 0 ? default : new ReadOnlyMemory<byte>(buffer, p + headersStart, headersLength),
                    flags));
                added++;
                bodyBytes += bodyLength;
                if (added >= maxMessages)
                {
                    return added;
                }
            }

            if (records.Index != header.Count)
            {
                if (added == 0)
                {
                    resume = SkipCorruption(segment, position + p, "malformed records");
                }

                break;
            }

            p += header.Length;
        }

        return added;
    }

    /// <summary>Logs a corrupt batch (once per segment) and returns where reading can resume, or -1 for "next segment".</summary>
    private long SkipCorruption(LogSegment segment, long position, string problem)
    {
        long resume = segment.NextEntryOffsetAfter(position);
        if (segment.FirstCorruptionReport())
        {
            _logger.LogError(
                "partition log segment {Path}: {Problem} at byte {Position}; skipping to offset {Resume}",
                segment.LogPath, problem, position, resume < 0 ? "the next segment" : resume.ToString(CultureInfo.InvariantCulture));
        }

        return resume;
    }

    /// <summary>
    /// Reads the single record at <paramref name="offset"/> (redelivery of requeued/deferred messages). The body is
    /// copied into its own array. False if the offset was deleted by retention, is unreadable or not yet durable.
    /// </summary>
    public bool TryRead(long offset, out LogRecord record)
    {
        record = default;
        ObjectDisposedException.ThrowIf(_disposed, this);
        long durable = Volatile.Read(ref _durableOffset);
        LogSegment[] segments = Volatile.Read(ref _segments);
        if (offset < segments[0].BaseOffset || offset >= durable)
        {
            return false;
        }

        LogSegment segment = segments[FindSegment(segments, offset)];
        byte[] scratch = ArrayPool<byte>.Shared.Rent(ScratchBytes);
        byte[]? batchBuffer = null;
        try
        {
            LocateStatus status = segment.Locate(offset, segment.ReadableSize, scratch, out long position, out BatchHeader header);
            if (status != LocateStatus.Found || header.BaseOffset > offset)
            {
                return false;
            }

            batchBuffer = ArrayPool<byte>.Shared.Rent(header.Length);
            Span<byte> batch = batchBuffer.AsSpan(0, header.Length);
            if (LogSegment.ReadFully(segment.Handle, batch, position) != header.Length || !LogFormat.CrcMatches(batch))
            {
                _ = SkipCorruption(segment, position, "CRC mismatch");
                return false;
            }

            var records = new RecordReader(batch, header.Count);
            while (records.MoveNext(out int bodyStart, out int bodyLength, out int headersStart, out int headersLength, out long timestampNs, out long deliverAtMs, out ushort flags))
            {
                if (header.BaseOffset + records.Index - 1 == offset)
                {
                    record = new LogRecord(
                        offset,
                        timestampNs,
                        deliverAtMs,
                        batch.Slice(bodyStart, bodyLength).ToArray(),
                        headersLength == 0 ? default : batch.Slice(headersStart, headersLength).ToArray(),
                        flags);
                    return true;
                }
            }

            return false;
        }
        catch (ObjectDisposedException) when (!_disposed)
        {
            return false; // segment deleted by retention
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
            if (batchBuffer is not null)
            {
                ArrayPool<byte>.Shared.Return(batchBuffer);
            }
        }
    }

    /// <summary>
    /// First offset whose record timestamp is &gt;= <paramref name="timestampMs"/> (unix ms). <see cref="EndOffset"/> if
    /// every record is older; offsets below <see cref="StartOffset"/> are never returned.
    /// </summary>
    public long FindOffsetByTime(long timestampMs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long target = timestampMs >= long.MaxValue / 1_000_000 ? long.MaxValue
            : timestampMs <= long.MinValue / 1_000_000 ? long.MinValue
            : timestampMs * 1_000_000;
        long durable = Volatile.Read(ref _durableOffset);
        LogSegment[] segments = Volatile.Read(ref _segments);
        bool any = false;
        byte[] scratch = ArrayPool<byte>.Shared.Rent(ScratchBytes);
        try
        {
            for (int i = 0; i < segments.Length; i++)
            {
                LogSegment segment = segments[i];
                if (segment.MaxTimestampNs < target)
                {
                    continue;
                }

                any = true;
                try
                {
                    long found = FindInSegment(segment, target, durable, scratch);
                    if (found >= 0)
                    {
                        return found;
                    }
                }
                catch (ObjectDisposedException) when (!_disposed)
                {
                    // deleted by retention: the next segment is the answer's lower bound
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        return any ? durable : Volatile.Read(ref _endOffset);
    }

    private static long FindInSegment(LogSegment segment, long target, long durable, byte[] scratch)
    {
        long from = segment.TimeFloorOffset(target);
        (_, long position) = segment.FloorEntry(from);
        LocateStatus status = segment.WalkFrom(
            position, target, segment.ReadableSize, scratch,
            static (in BatchHeader h, long ts) => h.MaxTimestampNs >= ts,
            out long batchPosition, out BatchHeader header);
        if (status != LocateStatus.Found || header.BaseOffset >= durable)
        {
            return -1;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(header.Length);
        try
        {
            Span<byte> batch = buffer.AsSpan(0, header.Length);
            if (LogSegment.ReadFully(segment.Handle, batch, batchPosition) != header.Length || !LogFormat.CrcMatches(batch))
            {
                return -1;
            }

            var records = new RecordReader(batch, header.Count);
            while (records.MoveNext(out _, out _, out _, out _, out long timestampNs, out _, out _))
            {
                if (timestampNs >= target)
                {
                    long offset = header.BaseOffset + records.Index - 1;
                    return offset < durable ? offset : durable;
                }
            }

            return -1;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
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
                segment.Handle.Dispose();
            }
        }

        _lockHandle.Dispose();
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
