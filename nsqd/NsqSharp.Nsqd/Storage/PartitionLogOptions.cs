namespace NsqSharp.Nsqd.Storage;

/// <summary>When an append is acknowledged relative to fsync.</summary>
public enum SyncMode
{
    /// <summary>Default. An append completes only after the fsync that covers it (group-committed: one fsync for
    /// every append queued while the previous one ran). Readers see data only once it is fsynced.</summary>
    EveryAppend,

    /// <summary>An append completes once written to the file (OS page cache); fsync after every
    /// <see cref="PartitionLogOptions.SyncEvery"/> messages or <see cref="PartitionLogOptions.SyncTimeout"/>,
    /// whichever comes first (upstream nsqd's --sync-every / --sync-timeout). A power loss can lose acked data.</summary>
    EveryN,

    /// <summary>An append completes once written; fsync every <see cref="PartitionLogOptions.SyncTimeout"/>.
    /// A power loss can lose up to that much acked data.</summary>
    Interval,
}

/// <summary>
/// Which bound of a <see cref="PartitionLog"/> a reader stays below (Kafka's fetch isolation). Both are offsets one past
/// the last readable record; HighWatermark &lt;= LogEnd always.
/// </summary>
public enum LogBound
{
    /// <summary>Committed data: what consumers may read and what acknowledgements wait for. Standalone it follows
    /// <see cref="LogEnd"/>; in a replicated partition the leader advances it as the in-sync replicas catch up.</summary>
    HighWatermark,

    /// <summary>Everything appended and synced per <see cref="PartitionLogOptions.SyncMode"/>: what the leader's own
    /// copy counts toward the high watermark with (and, on a follower, what it has copied and reports).</summary>
    LogEnd,

    /// <summary>Everything the writer has written to the file, synced or not yet (&gt;= LogEnd): what a leader serves
    /// to its followers, so its fsync runs while they fetch and write instead of before (Kafka's followers read the
    /// leader's page cache too). Safe because the high watermark still needs the leader's own LogEnd: nothing is
    /// acknowledged or consumed until the leader has synced it as well.</summary>
    Written,
}

/// <summary>Tuning and retention for one <see cref="PartitionLog"/>.</summary>
public sealed class PartitionLogOptions
{
    /// <summary>Largest batch accepted by one append (header and record overhead included).</summary>
    public const int MaxBatchBytes = 256 * 1024 * 1024;

    /// <summary>Largest segment size accepted.</summary>
    public const long MaxSegmentBytes = 1L << 30;

    /// <summary>Roll to a new segment when a batch would make the current one exceed this (upstream --max-bytes-per-file).
    /// A single batch larger than this gets a segment of its own.</summary>
    public long SegmentBytes { get; init; } = 100 * 1024 * 1024;

    /// <summary>Sparse offset/time index granularity: an entry at the first batch starting this many bytes after the previous entry.</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    public SyncMode SyncMode { get; init; } = SyncMode.EveryAppend;

    /// <summary>Messages between fsyncs in <see cref="SyncMode.EveryN"/> (upstream --sync-every).</summary>
    public int SyncEvery { get; init; } = 2500;

    /// <summary>Longest time written data stays un-fsynced in the relaxed modes (upstream --sync-timeout).</summary>
    public TimeSpan SyncTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Bound on bytes queued for the writer and not yet completed; further appends wait (backpressure).
    /// A single append larger than this is still accepted when nothing else is pending.</summary>
    public long MaxPendingAppendBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Delete closed segments whose newest message is older than this. Zero = unlimited.</summary>
    public TimeSpan RetentionAge { get; init; } = TimeSpan.Zero;

    /// <summary>Delete oldest closed segments while the log is bigger than this. Zero = unlimited.
    /// Soft: never deletes a segment holding offsets at or above the slowest channel's ack floor.</summary>
    public long RetentionBytes { get; init; }

    /// <summary>When the log is bigger than this, delete the oldest segments even if unconsumed (counted in
    /// <see cref="PartitionLog.HardLimitDeletedMessages"/> and logged). Zero = none.</summary>
    public long HardLimitBytes { get; init; }

    /// <summary>The open-file budget shared with other logs (nsqd: one per node, --max-open-segments);
    /// null = <see cref="SegmentHandleCache.Shared"/>.</summary>
    public SegmentHandleCache? HandleCache { get; init; }

    /// <summary>The dedicated threads that run this log's writer (group commits, fsyncs, rolls, truncations), shared
    /// with other logs; null = <see cref="LogWriterPool.Shared"/>.</summary>
    public LogWriterPool? WriterPool { get; init; }

    /// <summary>
    /// True (default, standalone): the writer advances the high watermark with the log end, so readers and
    /// acknowledgements wait only for the local write (and fsync). False: the owner (a replication leader or follower)
    /// advances it with <see cref="PartitionLog.AdvanceHighWatermark"/>; appends then complete only once the high
    /// watermark passes their last offset (Kafka's acks=all), and the high watermark starts at the log's start offset
    /// after Open (the owner restores it).
    /// </summary>
    public bool HighWatermarkFollowsLogEnd { get; init; } = true;

    /// <summary>
    /// Recovery of the last segment cuts the log at its first damaged batch instead of skipping that batch and keeping
    /// the ones after it. A replica must (Kafka does the same): a skipped batch is a hole that the leader's copy does
    /// not have, which the replica would carry on as if whole and, once leader, serve without those messages; cut
    /// there, the follower fetches that part again from the leader. Standalone there is no other copy, so the default
    /// keeps what can be kept. (The chaos harness's bit-flip fault found the hole.)
    /// </summary>
    public bool TruncateAtCorruption { get; init; }

    /// <summary>
    /// Roll into segment files written full of zeros ahead of time (in the background, once the active segment is half
    /// full) instead of empty ones: an fdatasync then flushes only data, not a new file size through the journal, which
    /// about halves its latency on ext4 (PartitionLog.Preallocation.cs). Costs one zero-fill write of SegmentBytes per
    /// segment and up to SegmentBytes of spare disk per busy log.
    /// </summary>
    public bool PreallocateSegments { get; init; }

    internal void Validate()
    {
        if (SegmentBytes <= 0 || SegmentBytes > MaxSegmentBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentBytes), SegmentBytes, $"must be in (0, {MaxSegmentBytes}]");
        }

        if (IndexIntervalBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IndexIntervalBytes), IndexIntervalBytes, "must be >= 0");
        }

        if (SyncEvery < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SyncEvery), SyncEvery, "must be >= 1");
        }

        if (SyncTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SyncTimeout), SyncTimeout, "must be positive");
        }

        if (MaxPendingAppendBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPendingAppendBytes), MaxPendingAppendBytes, "must be positive");
        }

        if (RetentionAge < TimeSpan.Zero || RetentionBytes < 0 || HardLimitBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(RetentionAge), "retention limits must not be negative");
        }

        if (!Enum.IsDefined(SyncMode))
        {
            throw new ArgumentOutOfRangeException(nameof(SyncMode), SyncMode, "unknown sync mode");
        }
    }
}

/// <summary>Offsets assigned to one append: [FirstOffset, FirstOffset + Count).</summary>
public readonly record struct AppendResult(long FirstOffset, int Count);

/// <summary>One message as stored. Records returned by <see cref="PartitionLog.Read"/> and <see cref="PartitionLog.TryRead"/>
/// own their <see cref="Body"/> (and <see cref="Headers"/>): each is an array of exactly its length that nothing else
/// references, so keeping a record keeps exactly its bytes alive.</summary>
public readonly struct LogRecord
{
    public LogRecord(long offset, long timestampNs, long deliverAtMs, ReadOnlyMemory<byte> body)
        : this(offset, timestampNs, deliverAtMs, body, default, 0)
    {
    }

    public LogRecord(long offset, long timestampNs, long deliverAtMs, ReadOnlyMemory<byte> body, ReadOnlyMemory<byte> headers, ushort flags)
    {
        Offset = offset;
        TimestampNs = timestampNs;
        DeliverAtMs = deliverAtMs;
        Body = body;
        Headers = headers;
        Flags = flags;
    }

    public long Offset { get; }

    /// <summary>Publish time, unix nanoseconds.</summary>
    public long TimestampNs { get; }

    /// <summary>Unix ms when a deferred (DPUB) message becomes due; 0 = immediately.</summary>
    public long DeliverAtMs { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Reserved record headers (trace id, extension headers); empty today.</summary>
    public ReadOnlyMemory<byte> Headers { get; }

    /// <summary>Reserved record flags; 0 today.</summary>
    public ushort Flags { get; }
}
