using System.IO.Compression;
using Snappier;

namespace NsqSharp.Common.Compression;

/// <summary>
/// Snappy framing-format stream, wire-compatible with golang/snappy NewReader/NewBufferedWriter
/// (what nsqd and go-nsq use after IDENTIFY negotiates "snappy"): one duplex stream over a
/// connection. Writes go through Snappier's compressing <see cref="SnappyStream"/>: the stream
/// identifier goes out with the first write, data is buffered up to one 64 KiB block, and
/// <see cref="Flush"/> emits it as a chunk and flushes the inner stream. Reads go through
/// <see cref="SnappyFrameReader"/> (golang/snappy's checks, Snappier's block decoder), return as
/// soon as one chunk has been decoded and throw <see cref="InvalidDataException"/> on corrupt
/// input. One reader and one writer may use the stream concurrently (like a socket), but not two
/// readers or two writers.
/// </summary>
public sealed class SnappyFrameStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly SnappyFrameReader _reader;
    private SnappyStream? _writer; // created on first write: SnappyStream refuses an unwritable inner stream
    private bool _unflushed; // written since the last flush
    private bool _disposed;

    /// <param name="inner">Transport, e.g. the connection's NetworkStream or SslStream.</param>
    /// <param name="leaveOpen">Leave <paramref name="inner"/> open when this stream is disposed.</param>
    public SnappyFrameStream(Stream inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        _reader = new SnappyFrameReader(inner);
    }

    private SnappyStream Writer => _writer ??= new SnappyStream(_inner, CompressionMode.Compress, leaveOpen: true);

    public override bool CanRead => !_disposed && _inner.CanRead;

    public override bool CanWrite => !_disposed && _inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _reader.Read(buffer);
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 0 ? -1 : one[0];
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _reader.ReadAsync(buffer, cancellationToken);
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Write(buffer.AsSpan(offset, count));
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _unflushed = true;
        Writer.Write(buffer);
    }

    public override void WriteByte(byte value) => Write([value]);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _unflushed = true;
        return Writer.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushWriter();
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return FlushWriterAsync(cancellationToken);
    }

    // SnappyStream.Flush frames what is buffered and writes it, but does not flush the inner stream.
    private void FlushWriter()
    {
        _unflushed = false;
        _writer?.Flush();
        _inner.Flush();
    }

    private async Task FlushWriterAsync(CancellationToken cancellationToken)
    {
        _unflushed = false;
        if (_writer is not null)
        {
            await _writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    // Returns the writer's pooled buffers. After a flush that failed on a broken transport the writer
    // still holds that chunk and tries to write it again: that second failure is not news.
    private void DisposeWriter()
    {
        try
        {
            _writer?.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            try
            {
                // Like golang/snappy Writer.Close: data written but not flushed still goes out.
                if (_unflushed)
                {
                    FlushWriter();
                }
            }
            finally
            {
                try
                {
                    DisposeWriter();
                }
                finally
                {
                    if (!_leaveOpen)
                    {
                        _inner.Dispose();
                    }
                }
            }
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            try
            {
                if (_unflushed)
                {
                    await FlushWriterAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                try
                {
                    // Synchronous on purpose: nothing is left to write, and SnappyStream.DisposeAsync
                    // does not return the compressor's pooled buffers.
                    DisposeWriter();
                }
                finally
                {
                    if (!_leaveOpen)
                    {
                        await _inner.DisposeAsync().ConfigureAwait(false);
                    }
                }
            }
        }

        GC.SuppressFinalize(this);
    }
}
