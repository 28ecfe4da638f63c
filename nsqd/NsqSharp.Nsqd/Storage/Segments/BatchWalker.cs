using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Walks one segment's batches in file order from a known point (an index entry or the segment start), returning
/// only verified batches (plausible header, CRC, well-formed records) with offsets derived from continuity. Every
/// reader and recovery use it, so they all map bytes to offsets the same way:
/// <list type="bullet">
/// <item>A batch's offset is the previous batch's next offset (the base offset field is not covered by the CRC;
/// a field that disagrees is reported and ignored). At an index entry the entry's offset is authoritative.</item>
/// <item>A damaged batch is skipped: the walk resynchronises at the batch its length points to if that one is valid,
/// else at the next position holding a valid batch (magic, plausible header, matching CRC). Only after such a gap
/// is the next batch's own base offset believed (if it lies between the expected offset and the next known anchor),
/// so the lost offsets are exactly the damaged batch's.</item>
/// <item>A batch whose CRC matches the bytes up to the next valid batch is intact but for its length field: it is
/// read with the corrected length (reported, nothing lost).</item>
/// </list>
/// Results are valid until the next <see cref="MoveNext"/>; the walker reads through a pooled window. A walk that a
/// truncation overtook (its <see cref="ReadGeneration"/> is no longer current) may meet bytes that are gone or
/// rewritten: it reports nothing and remembers nothing, and its caller discards what it read.
/// </summary>
internal sealed class BatchWalker : IDisposable
{
    private const int MinWindow = 8192;
    private const int MaxPooledWindow = 16 * 1024 * 1024;

    private readonly LogSegment _segment;
    private readonly SafeFileHandle _handle;
    private readonly long _limit;
    private readonly long _upperBound;
    private readonly ICorruptionSink? _sink;
    private readonly ReadGeneration _generation;
    private readonly OffsetIndexEntry[] _anchors;
    private readonly int _anchorCount;
    private int _nextAnchor;
    private byte[] _buffer;
    private bool _pooled;
    private long _bufferStart = -1;
    private int _bufferLength;

    private long _position;
    private long _expected;
    private bool _afterDamage;
    private long _damageStart;
    private string? _damageProblem;

    /// <param name="segment">The segment (its index supplies anchors when <paramref name="useAnchors"/>).</param>
    /// <param name="handle">A leased handle of its file.</param>
    /// <param name="limit">Bytes that may be read (the durable or well-formed part).</param>
    /// <param name="startPosition">A batch start: an index entry's position, or 0.</param>
    /// <param name="startOffset">The offset of the batch there.</param>
    /// <param name="upperBound">No offset of this segment is at or above this (the next segment's base, or the log's end).</param>
    /// <param name="useAnchors">Re-anchor at the segment's index entries (false while recovery rebuilds them).</param>
    /// <param name="sink">Receives every damaged spot the walk passes.</param>
    /// <param name="readAhead">Bytes to read when the window must move (at least what the next batch needs).</param>
    /// <param name="generation">The log's read generation when the reader started (default: recovery, always current).</param>
    public BatchWalker(LogSegment segment, SafeFileHandle handle, long limit, long startPosition, long startOffset,
        long upperBound, bool useAnchors, ICorruptionSink? sink, int readAhead, ReadGeneration generation = default)
    {
        _generation = generation;
        _segment = segment;
        _handle = handle;
        _limit = limit;
        _upperBound = upperBound;
        _sink = sink;
        _position = startPosition;
        _expected = startOffset;
        ValidEnd = startPosition;
        ReadAhead = readAhead;
        (_anchors, _anchorCount) = useAnchors ? segment.OffsetIndex.SnapshotArray() : ([], 0);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(readAhead, MinWindow, MaxPooledWindow));
        _pooled = true;
    }

    /// <summary>End the walk at the first damaged batch (reported as <see cref="TailDamage"/>) instead of skipping it:
    /// recovery of a replica's last segment (<see cref="PartitionLogOptions.TruncateAtCorruption"/>).</summary>
    public bool StopAtDamage { get; init; }

    /// <summary>Bytes read when the window moves; raise it once the caller knows how much it wants.</summary>
    public int ReadAhead { get; set; }

    /// <summary>Current batch: file position.</summary>
    public long Position { get; private set; }

    /// <summary>Current batch: length in bytes (its header's length field may be the damaged part).</summary>
    public int Length { get; private set; }

    /// <summary>Current batch: offset of its first record.</summary>
    public long Offset { get; private set; }

    /// <summary>Current batch: parsed header (use <see cref="Length"/> and <see cref="Offset"/>, not its fields).</summary>
    public BatchHeader Header { get; private set; }

    public long NextOffset => Offset + Header.Count;

    /// <summary>Current batch's bytes.</summary>
    public ReadOnlySpan<byte> Batch => _buffer.AsSpan((int)(Position - _bufferStart), Length);

    /// <summary>End of the last valid batch returned (recovery: where the log continues).</summary>
    public long ValidEnd { get; private set; }

    /// <summary>Offset after the last valid batch returned.</summary>
    public long ExpectedOffset => _expected;

    /// <summary>After <see cref="MoveNext"/> returned false: where trailing damage (bytes holding no valid batch up to
    /// the limit) starts, or -1 if the walk ended cleanly at the limit.</summary>
    public long TailDamage { get; private set; } = -1;

    /// <summary>What was wrong at <see cref="TailDamage"/>.</summary>
    public string? TailProblem { get; private set; }

    /// <summary>Advances to the next valid batch; false at the limit or when only damaged bytes remain.</summary>
    public bool MoveNext()
    {
        while (true)
        {
            if (_limit - _position < LogFormat.BatchHeaderSize)
            {
                if (_position < _limit)
                {
                    TailDamage = _position;
                    TailProblem = $"{_limit - _position} trailing bytes, too short for a batch header";
                }

                return false;
            }

            string? problem = Check(_position, out BatchHeader header);
            if (problem is null)
            {
                Accept(_position, header, header.Length);
                return true;
            }

            if (StopAtDamage)
            {
                TailDamage = _position;
                TailProblem = problem;
                return false;
            }

            switch (Resync(_position, header, problem))
            {
                case ResyncResult.Repaired:
                    return true;
                case ResyncResult.End:
                    return false;
                default:
                    continue; // _position is now a valid batch
            }
        }
    }

    private enum ResyncResult
    {
        Found,
        Repaired,
        End,
    }

    private ResyncResult Resync(long damaged, in BatchHeader header, string problem)
    {
        // The usual case: damage inside the batch, and its length still leads to the next batch, which continues
        // where the damaged one's count says. (Without that check a damaged length could jump over valid batches.)
        long next = -1;
        long claimedEnd = damaged + header.Length;
        if (header.MagicValue == LogFormat.Magic && header.Length >= LogFormat.BatchHeaderSize && claimedEnd < _limit
            && Check(claimedEnd, out BatchHeader following) is null && following.BaseOffset == _expected + header.Count)
        {
            next = claimedEnd;
        }
        else
        {
            next = Scan(_segment.ResyncHint(damaged) ?? damaged + 1, out long scannedTo);
            if (_generation.IsCurrent)
            {
                _segment.RememberResync(damaged, next >= 0 ? next : scannedTo);
            }

            if (next >= 0 && TryRepairLength(damaged, next - damaged, out BatchHeader repaired))
            {
                Report(new Corruption(CorruptionKind.LengthRepaired, damaged, next,
                    $"batch length field says {header.Length} but the CRC matches {next - damaged} bytes", next - damaged, header.Length));
                Accept(damaged, repaired, (int)(next - damaged));
                return ResyncResult.Repaired;
            }
        }

        if (next < 0)
        {
            TailDamage = _afterDamage ? _damageStart : damaged;
            TailProblem = _afterDamage ? _damageProblem : problem;
            return ResyncResult.End;
        }

        if (!_afterDamage)
        {
            _afterDamage = true;
            _damageStart = damaged;
            _damageProblem = problem;
        }

        _position = next;
        return ResyncResult.Found;
    }

    private void Accept(long position, in BatchHeader header, int length)
    {
        long stored = header.BaseOffset;
        long derived;
        if (AnchorAt(position, out long anchored))
        {
            derived = anchored;
        }
        else if (!_afterDamage)
        {
            derived = _expected;
        }
        else
        {
            // After a gap the lost records' count is unknown: the batch's own field is the evidence, if consistent.
            derived = stored >= _expected && stored <= NextAnchorOffset(position) - header.Count ? stored : _expected;
        }

        if (_afterDamage)
        {
            _afterDamage = false;
            Report(new Corruption(CorruptionKind.Skipped, _damageStart, position, _damageProblem!, _expected, Math.Max(derived, _expected)));
        }

        if (stored != derived)
        {
            Report(new Corruption(CorruptionKind.BaseOffsetRepaired, position, position + length,
                "batch base offset field (not covered by the CRC) disagrees with its position in the log", derived, stored));
        }

        Position = position;
        Length = length;
        Header = header;
        Offset = derived;
        _expected = derived + header.Count;
        _position = position + length;
        ValidEnd = _position;
    }

    /// <summary>True (with its offset) when an index entry points exactly at <paramref name="position"/>.</summary>
    private bool AnchorAt(long position, out long offset)
    {
        while (_nextAnchor < _anchorCount && _anchors[_nextAnchor].Position < position)
        {
            _nextAnchor++;
        }

        if (_nextAnchor < _anchorCount && _anchors[_nextAnchor].Position == position)
        {
            offset = _segment.BaseOffset + _anchors[_nextAnchor].RelOffset;
            _nextAnchor++;
            return true;
        }

        offset = 0;
        return false;
    }

    private long NextAnchorOffset(long position)
    {
        for (int i = _nextAnchor; i < _anchorCount; i++)
        {
            if (_anchors[i].Position > position)
            {
                return _segment.BaseOffset + _anchors[i].RelOffset;
            }
        }

        return _upperBound;
    }

    private void Report(in Corruption corruption)
    {
        if (_generation.IsCurrent)
        {
            _sink?.Report(_segment, corruption);
        }
    }

    /// <summary>Null when a valid batch starts at <paramref name="position"/>; otherwise what is wrong.</summary>
    private string? Check(long position, out BatchHeader header)
    {
        header = default;
        if (!Ensure(position, LogFormat.BatchHeaderSize))
        {
            return "short read";
        }

        header = new BatchHeader(Window(position, LogFormat.BatchHeaderSize));
        if (!header.HasPlausibleShape(_limit - position))
        {
            return "malformed or incomplete batch header";
        }

        if (!Ensure(position, header.Length))
        {
            return "short read";
        }

        ReadOnlySpan<byte> batch = Window(position, header.Length);
        if (!LogFormat.CrcMatches(batch))
        {
            return "CRC mismatch";
        }

        return LogFormat.RecordsWellFormed(batch, header.Count) ? null : "malformed records";
    }

    /// <summary>True when the bytes [position, position + length) form a valid batch whose length field alone is wrong.</summary>
    private bool TryRepairLength(long position, long length, out BatchHeader header)
    {
        header = default;
        if (length > PartitionLogOptions.MaxBatchBytes || !Ensure(position, LogFormat.BatchHeaderSize))
        {
            return false;
        }

        header = new BatchHeader(Window(position, LogFormat.BatchHeaderSize));
        if (header.MagicValue != LogFormat.Magic || header.VersionValue != LogFormat.Version || header.Count < 1
            || length < LogFormat.BatchHeaderSize + ((long)header.Count * LogFormat.RecordHeaderSize)
            || !Ensure(position, (int)length))
        {
            return false;
        }

        ReadOnlySpan<byte> batch = Window(position, (int)length);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(batch[LogFormat.CrcPos..]);
        return Crc32C.Compute(batch[LogFormat.CrcStart..]) == stored && LogFormat.RecordsWellFormed(batch, header.Count);
    }

    /// <summary>First position at or after <paramref name="from"/> where a valid batch starts, or -1.</summary>
    private long Scan(long from, out long scannedTo)
    {
        long x = from;
        while (_limit - x >= LogFormat.BatchHeaderSize && Ensure(x, LogFormat.BatchHeaderSize))
        {
            int start = (int)(x - _bufferStart);
            int available = _bufferLength - start;

            // A batch starting at c has its magic at c + MagicPos: search for the magic, then verify the whole batch.
            int hit = _buffer.AsSpan(start + LogFormat.MagicPos, available - LogFormat.MagicPos).IndexOf("NQ"u8);
            if (hit < 0)
            {
                // Keep the window's last byte: it may be the first half of a magic split across windows.
                x += available - LogFormat.MagicPos - 1;
                continue;
            }

            long candidate = x + hit;
            if (Check(candidate, out _) is null)
            {
                scannedTo = candidate;
                return candidate;
            }

            x = candidate + 1;
        }

        scannedTo = x;
        return -1;
    }

    private ReadOnlySpan<byte> Window(long position, int length) => _buffer.AsSpan((int)(position - _bufferStart), length);

    /// <summary>Makes [position, position + length) present in the window, reading at least <see cref="ReadAhead"/>.</summary>
    private bool Ensure(long position, int length)
    {
        if (position >= _bufferStart && position + length <= _bufferStart + _bufferLength)
        {
            return true;
        }

        if (position + length > _limit)
        {
            return false;
        }

        int want = (int)Math.Min(Math.Max(length, ReadAhead), _limit - position);
        if (want > _buffer.Length)
        {
            ReturnBuffer();
            _pooled = want <= MaxPooledWindow;
            _buffer = _pooled ? ArrayPool<byte>.Shared.Rent(want) : GC.AllocateUninitializedArray<byte>(want);
        }

        _bufferStart = position;
        _bufferLength = NativeFile.ReadFully(_handle, _buffer.AsSpan(0, want), position);
        return _bufferLength >= length;
    }

    private void ReturnBuffer()
    {
        if (_pooled)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _pooled = false;
        }
    }

    public void Dispose()
    {
        ReturnBuffer();
        _buffer = [];
        _bufferStart = -1;
        _bufferLength = 0;
    }
}
