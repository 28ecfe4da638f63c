using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Read half of <see cref="SnappyFrameStream"/>: golang/snappy's framing rules, with Snappier
/// decoding each block. (Snappier's own SnappyStream reader is not used: it accepts streams without
/// the identifier and truncated chunks, allocates whatever a chunk declares, and its synchronous
/// Read waits to fill the whole buffer; see docs/ARCHITECTURE.md.) Chunk parsing
/// (<see cref="TryReadBuffered"/>) works only on bytes already buffered, so the sync and async
/// paths share it and differ only in how they refill. A read returns as soon as one data chunk is decoded; refills take whatever the
/// inner stream has available but never wait for more than the current chunk needs.
/// </summary>
internal sealed class SnappyFrameReader
{
    // Holds the largest chunk (header + body) with some room for read-ahead, below the 85 KB
    // large-object-heap threshold.
    private const int InputBufferSize = 80 * 1024;

    private readonly Stream _inner;
    private byte[]? _input;
    private int _inputStart;
    private int _inputEnd;
    private byte[]? _decoded;
    private int _decodedStart;
    private int _decodedEnd;
    private int _skipRemaining;
    private bool _sawStreamIdentifier;

    public SnappyFrameReader(Stream inner)
    {
        _inner = inner;
    }

    private int Buffered => _inputEnd - _inputStart;

    public int Read(Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            int produced = TryReadBuffered(destination, out int needed);
            if (produced > 0)
            {
                return produced;
            }

            if (!Fill(needed))
            {
                return 0;
            }
        }
    }

    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (destination.IsEmpty)
        {
            return ValueTask.FromResult(0);
        }

        int produced = TryReadBuffered(destination.Span, out int needed);
        return produced > 0 ? ValueTask.FromResult(produced) : ReadSlowAsync(destination, needed, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadSlowAsync(Memory<byte> destination, int needed, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (!await FillAsync(needed, cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }

            int produced = TryReadBuffered(destination.Span, out needed);
            if (produced > 0)
            {
                return produced;
            }
        }
    }

    /// <summary>
    /// Produces decoded bytes from buffered input only. Returns the count copied (> 0), or 0 with
    /// <paramref name="needed"/> set to the number of buffered bytes required to make progress.
    /// </summary>
    private int TryReadBuffered(Span<byte> destination, out int needed)
    {
        needed = 0;
        if (_decodedStart < _decodedEnd)
        {
            return CopyDecoded(destination);
        }

        while (true)
        {
            if (_skipRemaining > 0)
            {
                int skip = Math.Min(_skipRemaining, Buffered);
                _inputStart += skip;
                _skipRemaining -= skip;
                if (_skipRemaining > 0)
                {
                    needed = 1;
                    return 0;
                }
            }

            if (Buffered < SnappyFraming.ChunkHeaderSize)
            {
                needed = SnappyFraming.ChunkHeaderSize;
                return 0;
            }

            ReadOnlySpan<byte> header = _input.AsSpan(_inputStart, SnappyFraming.ChunkHeaderSize);
            byte chunkType = header[0];
            int chunkLength = header[1] | (header[2] << 8) | (header[3] << 16);
            ValidateHeader(chunkType, chunkLength);

            if (chunkType >= 0x80 && chunkType != SnappyFraming.ChunkTypeStreamIdentifier)
            {
                // Reserved skippable (0x80-0xfd) or padding (0xfe): discard without buffering it whole.
                _inputStart += SnappyFraming.ChunkHeaderSize;
                _skipRemaining = chunkLength;
                continue;
            }

            int total = SnappyFraming.ChunkHeaderSize + chunkLength;
            if (Buffered < total)
            {
                needed = total;
                return 0;
            }

            ReadOnlySpan<byte> body = _input.AsSpan(_inputStart + SnappyFraming.ChunkHeaderSize, chunkLength);
            _inputStart += total; // body stays valid: nothing refills until we return
            int produced = DecodeChunk(chunkType, body, destination);
            if (produced > 0)
            {
                return produced;
            }
        }
    }

    private void ValidateHeader(byte chunkType, int chunkLength)
    {
        if (!_sawStreamIdentifier && chunkType != SnappyFraming.ChunkTypeStreamIdentifier)
        {
            throw Corrupt("stream does not start with the stream identifier");
        }

        switch (chunkType)
        {
            case SnappyFraming.ChunkTypeCompressed:
                if (chunkLength < SnappyFraming.ChecksumSize || chunkLength > SnappyFraming.MaxDataChunkLength)
                {
                    throw Corrupt("bad compressed chunk length");
                }

                break;
            case SnappyFraming.ChunkTypeUncompressed:
                if (chunkLength < SnappyFraming.ChecksumSize
                    || chunkLength - SnappyFraming.ChecksumSize > SnappyFraming.MaxBlockSize)
                {
                    throw Corrupt("bad uncompressed chunk length");
                }

                break;
            case SnappyFraming.ChunkTypeStreamIdentifier:
                if (chunkLength != SnappyFraming.StreamIdentifierBody.Length)
                {
                    throw Corrupt("bad stream identifier length");
                }

                break;
            case < 0x80:
                throw new InvalidDataException($"snappy: unsupported unskippable chunk type 0x{chunkType:x2}");
        }
    }

    // Returns bytes copied into destination; the rest of a large chunk waits in _decoded.
    private int DecodeChunk(byte chunkType, ReadOnlySpan<byte> body, Span<byte> destination)
    {
        if (chunkType == SnappyFraming.ChunkTypeStreamIdentifier)
        {
            if (!body.SequenceEqual(SnappyFraming.StreamIdentifierBody))
            {
                throw Corrupt("bad stream identifier");
            }

            _sawStreamIdentifier = true;
            return 0;
        }

        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(body);
        ReadOnlySpan<byte> payload = body[SnappyFraming.ChecksumSize..];
        if (chunkType == SnappyFraming.ChunkTypeUncompressed)
        {
            VerifyChecksum(expected, payload);
            return CopyOrKeep(payload, destination);
        }

        int length = DecodedLength(payload);
        if (length <= destination.Length)
        {
            // Decode straight into the caller's buffer and skip a copy.
            Span<byte> target = destination[..length];
            DecodeBlock(payload, target);
            VerifyChecksum(expected, target);
            return length;
        }

        byte[] decoded = _decoded ??= new byte[SnappyFraming.MaxBlockSize];
        DecodeBlock(payload, decoded.AsSpan(0, length));
        VerifyChecksum(expected, decoded.AsSpan(0, length));
        _decodedStart = 0;
        _decodedEnd = length;
        return CopyDecoded(destination);
    }

    // The block's declared length, checked before anything is decoded: a peer announcing more than
    // 64 KiB (or, past int.MaxValue, a negative length from Snappier) is refused without allocating.
    private static int DecodedLength(ReadOnlySpan<byte> block)
    {
        int length;
        try
        {
            length = Snappier.Snappy.GetUncompressedLength(block);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt("bad block length: " + e.Message);
        }

        if (length is < 0 or > SnappyFraming.MaxBlockSize)
        {
            throw Corrupt("compressed chunk decodes to more than 64 KiB");
        }

        return length;
    }

    // Snappier decodes a block whose copies run past its declared length if the output has room,
    // and reports a few corruptions as other exceptions: the target is exactly the declared
    // length, anything else is corrupt input.
    private static void DecodeBlock(ReadOnlySpan<byte> block, Span<byte> target)
    {
        int written;
        try
        {
            written = Snappier.Snappy.Decompress(block, target);
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException)
        {
            throw Corrupt("bad compressed block: " + e.Message);
        }

        if (written != target.Length)
        {
            throw Corrupt("compressed block shorter than its declared length");
        }
    }

    private int CopyOrKeep(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        if (data.Length <= destination.Length)
        {
            data.CopyTo(destination);
            return data.Length;
        }

        byte[] decoded = _decoded ??= new byte[SnappyFraming.MaxBlockSize];
        data.CopyTo(decoded);
        _decodedStart = 0;
        _decodedEnd = data.Length;
        return CopyDecoded(destination);
    }

    private int CopyDecoded(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _decodedEnd - _decodedStart);
        _decoded.AsSpan(_decodedStart, n).CopyTo(destination);
        _decodedStart += n;
        return n;
    }

    private static void VerifyChecksum(uint expected, ReadOnlySpan<byte> data)
    {
        if (SnappyFraming.MaskedChecksum(data) != expected)
        {
            throw Corrupt("checksum mismatch");
        }
    }

    // Makes room so that `needed` bytes fit from _inputStart; returns the free tail to read into.
    private Memory<byte> PrepareFill(int needed)
    {
        byte[] input = _input ??= new byte[InputBufferSize];
        if (_inputStart == _inputEnd)
        {
            _inputStart = _inputEnd = 0;
        }
        else if (_inputStart + needed > input.Length)
        {
            input.AsSpan(_inputStart, Buffered).CopyTo(input);
            _inputEnd = Buffered;
            _inputStart = 0;
        }

        return input.AsMemory(_inputEnd);
    }

    // Returns false on a clean end of stream (at a chunk boundary); throws on a truncated chunk.
    private bool Fill(int needed)
    {
        Memory<byte> free = PrepareFill(needed);
        while (Buffered < needed)
        {
            int n = _inner.Read(free.Span);
            if (!AfterRead(n, ref free))
            {
                return false;
            }
        }

        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(int needed, CancellationToken cancellationToken)
    {
        Memory<byte> free = PrepareFill(needed);
        while (Buffered < needed)
        {
            int n = await _inner.ReadAsync(free, cancellationToken).ConfigureAwait(false);
            if (!AfterRead(n, ref free))
            {
                return false;
            }
        }

        return true;
    }

    private bool AfterRead(int n, ref Memory<byte> free)
    {
        if (n > 0)
        {
            _inputEnd += n;
            free = free[n..];
            return true;
        }

        if (Buffered == 0 && _skipRemaining == 0)
        {
            return false;
        }

        throw Corrupt("unexpected end of stream inside a chunk");
    }

    private static InvalidDataException Corrupt(string detail) => new("snappy: corrupt input (" + detail + ")");
}
