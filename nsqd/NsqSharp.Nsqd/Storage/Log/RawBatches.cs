using System.Buffers;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Whole batches as stored, for a follower's fetch (<see cref="PartitionLog.ReadRawBatches"/>): offsets
/// [<see cref="FirstOffset"/>, <see cref="NextOffset"/>) in <see cref="BatchCount"/> contiguous batches, CRCs intact.
/// The bytes live in a buffer rented from <see cref="ArrayPool{T}.Shared"/>: dispose this once they are sent (a fetch
/// response is up to its max bytes, typically a MiB, and fetches repeat at the replication rate; allocating each
/// would be large-object-heap garbage). <see cref="Bytes"/> must not be used after <see cref="Dispose"/>.
/// </summary>
public sealed class RawBatches : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    internal RawBatches(byte[]? buffer, int length, long firstOffset, long nextOffset, int batchCount)
    {
        _buffer = buffer;
        _length = length;
        FirstOffset = firstOffset;
        NextOffset = nextOffset;
        BatchCount = batchCount;
    }

    /// <summary>Nothing to read from <paramref name="offset"/> (below the bound, or past it).</summary>
    internal static RawBatches Empty(long offset) => new(null, 0, offset, offset, 0);

    /// <summary>Base offset of the first batch: the batch holding the offset asked for, or a later one when that offset
    /// is gone (retention) or lost to corruption.</summary>
    public long FirstOffset { get; }

    /// <summary>Offset after the last record (where the next fetch continues).</summary>
    public long NextOffset { get; }

    public int BatchCount { get; }

    public bool IsEmpty => BatchCount == 0;

    /// <summary>The batches' bytes (valid until disposed).</summary>
    public ReadOnlyMemory<byte> Bytes
    {
        get
        {
            byte[]? buffer = Volatile.Read(ref _buffer);
            if (buffer is null)
            {
                ObjectDisposedException.ThrowIf(BatchCount > 0, this);
                return ReadOnlyMemory<byte>.Empty;
            }

            return new ReadOnlyMemory<byte>(buffer, 0, _length);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Raw batches handed to <see cref="PartitionLog.AppendRawBatchesAsync"/> do not start at the log's end.</summary>
public sealed class LogContinuityException : InvalidOperationException
{
    public LogContinuityException(string directory, long expectedOffset, long actualOffset)
        : base($"partition log {directory}: raw batches start at offset {actualOffset} but the log ends at {expectedOffset}")
    {
        ExpectedOffset = expectedOffset;
        ActualOffset = actualOffset;
    }

    public LogContinuityException()
    {
    }

    public LogContinuityException(string message)
        : base(message)
    {
    }

    public LogContinuityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The log's end when the batches were to be written.</summary>
    public long ExpectedOffset { get; }

    /// <summary>The first batch's base offset.</summary>
    public long ActualOffset { get; }
}

/// <summary>An append was written but truncated away before the high watermark reached it (a replica that stopped
/// leading gave its uncommitted tail up to the new leader's log): it was never acknowledged and is not in the log.</summary>
public sealed class AppendTruncatedException(string directory, long truncatedTo)
    : IOException($"partition log {directory}: truncated to {truncatedTo} before the high watermark reached this append (leadership moved)");
