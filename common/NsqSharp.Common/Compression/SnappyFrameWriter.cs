using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Write half of <see cref="SnappyFrameStream"/>: buffers up to one block of data and turns it into
/// a framed chunk when the block fills or on flush, like golang/snappy's NewBufferedWriter.
/// Buffers are allocated on first use and reused, so steady-state writes do not allocate.
/// </summary>
internal sealed class SnappyFrameWriter
{
    private const int ChunkPrefixSize = SnappyFraming.ChunkHeaderSize + SnappyFraming.ChecksumSize;

    // Room for the one-time stream identifier plus the largest possible chunk.
    private const int OutputBufferSize = 10 + ChunkPrefixSize + SnappyFraming.MaxEncodedLenOfMaxBlockSize;

    private readonly Stream _inner;
    private byte[]? _pending;
    private int _pendingCount;
    private byte[]? _output;
    private bool _wroteStreamIdentifier;

    public SnappyFrameWriter(Stream inner)
    {
        _inner = inner;
    }

    public bool HasPendingData => _pendingCount > 0;

    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_pendingCount == 0 && data.Length >= SnappyFraming.MaxBlockSize)
            {
                // Whole block with nothing buffered: frame it straight from the caller's data.
                int n = EncodeChunk(data[..SnappyFraming.MaxBlockSize]);
                _inner.Write(_output!, 0, n);
                data = data[SnappyFraming.MaxBlockSize..];
                continue;
            }

            data = data[Buffer(data)..];
            if (_pendingCount == SnappyFraming.MaxBlockSize)
            {
                int n = EncodePending(); // before reading _output: encoding allocates it
                _inner.Write(_output!, 0, n);
            }
        }
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        // Common case: a small write that fits in the pending block completes without I/O.
        if (_pendingCount + data.Length < SnappyFraming.MaxBlockSize)
        {
            Buffer(data.Span);
            return ValueTask.CompletedTask;
        }

        return WriteSlowAsync(data, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            if (_pendingCount == 0 && data.Length >= SnappyFraming.MaxBlockSize)
            {
                int n = EncodeChunk(data.Span[..SnappyFraming.MaxBlockSize]);
                await _inner.WriteAsync(_output.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                data = data[SnappyFraming.MaxBlockSize..];
                continue;
            }

            data = data[Buffer(data.Span)..];
            if (_pendingCount == SnappyFraming.MaxBlockSize)
            {
                int n = EncodePending();
                await _inner.WriteAsync(_output.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Frames any pending data and writes it to the inner stream, without flushing it.</summary>
    public void WritePending()
    {
        if (_pendingCount > 0)
        {
            int n = EncodePending();
            _inner.Write(_output!, 0, n);
        }
    }

    public ValueTask WritePendingAsync(CancellationToken cancellationToken)
    {
        if (_pendingCount == 0)
        {
            return ValueTask.CompletedTask;
        }

        int n = EncodePending();
        return _inner.WriteAsync(_output.AsMemory(0, n), cancellationToken);
    }

    public void Flush()
    {
        WritePending();
        _inner.Flush();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        await WritePendingAsync(cancellationToken).ConfigureAwait(false);
        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // Copies as much of data as fits into the pending block; returns how much was taken.
    private int Buffer(ReadOnlySpan<byte> data)
    {
        byte[] pending = _pending ??= new byte[SnappyFraming.MaxBlockSize];
        int take = Math.Min(data.Length, pending.Length - _pendingCount);
        data[..take].CopyTo(pending.AsSpan(_pendingCount));
        _pendingCount += take;
        return take;
    }

    private int EncodePending()
    {
        int n = EncodeChunk(_pending.AsSpan(0, _pendingCount));
        _pendingCount = 0;
        return n;
    }

    // Frames one block into _output (preceded by the stream identifier the first time);
    // returns the number of bytes to write.
    private int EncodeChunk(ReadOnlySpan<byte> block)
    {
        byte[] output = _output ??= new byte[OutputBufferSize];
        int start = 0;
        if (!_wroteStreamIdentifier)
        {
            SnappyFraming.StreamIdentifier.CopyTo(output);
            start = SnappyFraming.StreamIdentifier.Length;
            _wroteStreamIdentifier = true;
        }

        uint checksum = SnappyFraming.MaskedChecksum(block);
        Span<byte> body = output.AsSpan(start + ChunkPrefixSize);
        int bodyLength = SnappyBlockEncoder.Encode(block, body);
        byte chunkType = SnappyFraming.ChunkTypeCompressed;
        // Same rule as golang/snappy: keep compression only if it saves at least 12.5%.
        if (bodyLength >= block.Length - (block.Length / 8))
        {
            chunkType = SnappyFraming.ChunkTypeUncompressed;
            block.CopyTo(body);
            bodyLength = block.Length;
        }

        int chunkLength = SnappyFraming.ChecksumSize + bodyLength;
        output[start] = chunkType;
        output[start + 1] = (byte)chunkLength;
        output[start + 2] = (byte)(chunkLength >> 8);
        output[start + 3] = (byte)(chunkLength >> 16);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(start + SnappyFraming.ChunkHeaderSize), checksum);
        return start + ChunkPrefixSize + bodyLength;
    }
}
