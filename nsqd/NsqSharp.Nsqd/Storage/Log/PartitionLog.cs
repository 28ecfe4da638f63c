using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// One topic partition: a segmented append-only log with group commit. Thread-safe: any number of concurrent
/// appenders and readers. On-disk format and mechanics: Storage/FORMAT.md. The class is split by job:
/// <list type="bullet">
/// <item>PartitionLog.cs: state, properties, close;</item>
/// <item>PartitionLog.Recovery.cs: Open and recovery (segments, torn tail, leader-epoch cache);</item>
/// <item>PartitionLog.Append.cs: the append queue (encoding on the caller's thread, backpressure);</item>
/// <item>PartitionLog.Writer.cs: the writer turn on a <see cref="LogWriterPool"/> thread, group commit, segment roll;</item>
/// <item>PartitionLog.Bounds.cs: log end and high watermark, their wake-ups and the appends waiting for the HW;</item>
/// <item>PartitionLog.Read.cs: record reads; PartitionLog.Replication.cs: raw batch reads and appends, epochs;</item>
/// <item>PartitionLog.Truncate.cs: TruncateToAsync; PartitionLog.Retention.cs: EnforceRetention (policy in
/// <see cref="RetentionPolicy"/>).</item>
/// </list>
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
    private readonly LogWriterPool _writers;
    private readonly CorruptionLog _corruption;
    private readonly LeaderEpochCache _epochs;
    private readonly ReadGenerationCounter _generation = new();
    private readonly object _queueLock = new();
    private readonly object _segmentsLock = new();
    private readonly ConcurrentQueue<AppendRequest> _requestPool = new();
    private readonly TaskCompletionSource _writerStopped = NewSignal();
    private readonly long _syncTimeoutMs;
    private readonly bool _hwFollowsLogEnd;

    private List<AppendRequest> _queue = new();
    private long _pendingBytes;
    private TaskCompletionSource? _spaceAvailable;
    private bool _disposing;
    private volatile bool _disposed;
    private Task? _disposeTask;

    private LogSegment[] _segments;
    private long _leaderEpoch;
    private long _syncCount;
    private long _writeCount;
    private long _hardLimitDeleted;
    private int _rollRequested;
    private int _pooledRequests;
    private volatile string? _health;

    private PartitionLog(string directory, int partition, PartitionLogOptions options, ILogger logger, SegmentHandleCache handles,
        CorruptionLog corruption, LogSegment[] segments, LeaderEpochCache epochs, long? checkpointedHighWatermark)
    {
        _directory = directory;
        Partition = partition;
        _options = options;
        _logger = logger;
        _handles = handles;
        _writers = options.WriterPool ?? LogWriterPool.Shared;
        _corruption = corruption;
        _segments = segments;
        _epochs = epochs;
        _active = segments[^1];
        _nextOffset = _active.NextOffset;
        _logEnd = _nextOffset;
        _writtenEnd = _logEnd;
        _hwFollowsLogEnd = options.HighWatermarkFollowsLogEnd;
        _highWatermark = _hwFollowsLogEnd ? _logEnd : Math.Clamp(checkpointedHighWatermark ?? 0, segments[0].BaseOffset, _logEnd);
        _checkpointedHighWatermark = _hwFollowsLogEnd ? -1 : _highWatermark;
        _leaderEpoch = Math.Max(0, epochs.LatestEpoch);
        _syncTimeoutMs = (long)Math.Clamp(options.SyncTimeout.TotalMilliseconds, 1, int.MaxValue);
    }

    public int Partition { get; }

    /// <summary>The directory holding this partition's files.</summary>
    public string Directory => _directory;

    /// <summary>Oldest retained offset.</summary>
    public long StartOffset => Volatile.Read(ref _segments)[0].BaseOffset;

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

    /// <summary>Batches whose header fields not covered by the CRC (base offset, length, leader epoch) were damaged but
    /// whose records were read intact (offsets follow continuity); nothing lost, but the disk is corrupting data.</summary>
    public long CorruptHeadersRepaired => _corruption.HeadersRepaired;

    /// <summary>The file-descriptor budget this log's segment handles count against.</summary>
    public SegmentHandleCache HandleCache => _handles;

    /// <summary>The threads this log's writer runs on.</summary>
    public LogWriterPool WriterPool => _writers;

    /// <summary>fsyncs of segment data performed so far (group commits, rolls, flushes, truncations).</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>Group-commit writes performed so far (one gather write per group, per segment).</summary>
    public long WriteCount => Interlocked.Read(ref _writeCount);

    /// <summary>
    /// Leader epoch stamped into each new batch appended by <see cref="AppendAsync"/>/<see cref="AppendBatchAsync"/>
    /// (0 standalone). Starts at the latest epoch in the log; can only grow past the latest epoch the log holds
    /// (ArgumentOutOfRangeException otherwise), so epochs in the log never go down.
    /// </summary>
    public long LeaderEpoch
    {
        get => Interlocked.Read(ref _leaderEpoch);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, Math.Max(0, _epochs.LatestEpoch));
            Interlocked.Exchange(ref _leaderEpoch, value);
        }
    }

    /// <summary>Null while healthy; otherwise what failed (appends then fail with IOException until reopened).</summary>
    public string? Health => _health;

    public PartitionLogOptions Options => _options;

    /// <summary>Every segment, oldest first (tests and diagnostics).</summary>
    internal LogSegment[] Segments => Volatile.Read(ref _segments);

    /// <summary>The segment being appended to (tests and diagnostics).</summary>
    internal LogSegment ActiveSegment => Volatile.Read(ref _segments)[^1];

    /// <summary>The leader-epoch cache (tests and diagnostics).</summary>
    internal LeaderEpochCache EpochCache => _epochs;

    // ------------------------------------------------------------------------------------------------ close

    /// <summary>Drains queued appends; the writer's last turn fsyncs and writes the active segment's indexes (and a
    /// changed epoch cache); then every file is closed. Appends still waiting for the high watermark fail (they are
    /// written, but were not committed while the log was open).</summary>
    public ValueTask DisposeAsync()
    {
        lock (_queueLock)
        {
            if (_disposeTask is null)
            {
                _disposing = true;
                _disposeTask = DisposeCoreAsync();
            }

            return new ValueTask(_disposeTask);
        }
    }

    private async Task DisposeCoreAsync()
    {
        await Task.Yield(); // never run the close on the disposer's lock
        Signal();
        await _writerStopped.Task.ConfigureAwait(false);
        await StopSpareAsync().ConfigureAwait(false);
        TaskCompletionSource? space;
        lock (_queueLock)
        {
            space = _spaceAvailable;
            _spaceAvailable = null;
        }

        space?.TrySetResult();
        CheckpointHighWatermarkAtClose();
        FailAwaitingHighWatermark(long.MinValue, new ObjectDisposedException(nameof(PartitionLog), "the log was closed before the high watermark reached this append"));
        lock (_segmentsLock)
        {
            _disposed = true;
            foreach (LogSegment segment in _segments)
            {
                segment.File.Close(); // a racing reader's lease keeps its handle until it is done
            }
        }

        lock (OpenDirectories)
        {
            OpenDirectories.Remove(_directory);
        }

        CloseWaiters();
    }

    /// <summary>Removes a (closed) partition log's directory and everything in it (topic delete).</summary>
    public static void DeleteFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (System.IO.Directory.Exists(directory))
        {
            NativeFile.DeleteDirectory(directory);
        }
    }

    private void MarkUnhealthy(string what, Exception e)
    {
        _health = $"{what}: {e.Message}";
        _logger.LogError(e, "partition log {Directory}: {What}; appends will fail until it is reopened", _directory, what);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
