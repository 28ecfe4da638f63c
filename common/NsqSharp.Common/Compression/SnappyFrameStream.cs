namespace NsqSharp.Common.Compression;

/// <summary>
/// Snappy framing-format stream, wire-compatible with golang/snappy NewReader/NewBufferedWriter
/// (what nsqd and go-nsq use after IDENTIFY negotiates "snappy").
/// Writes are buffered; <see cref="Flush"/> emits them as chunk(s) and flushes the inner stream.
/// Reads return as soon as one chunk has been decoded and throw <see cref="InvalidDataException"/>
/// on corrupt input. One reader and one writer may use the stream concurrently (like a socket),
/// but not two readers or two writers.
/// </summary>
public sealed class SnappyFrameStream : Stream
{
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly SnappyFrameReader _reader;
    private readonly SnappyFrameWriter _writer;
    private bool _disposed;

    /// <param name="inner">Transport, e.g. the connection's NetworkStream or SslStream.</param>
    /// <param name="leaveOpen">Leave <paramref name="inner"/> open when this stream is disposed.</param>
    public SnappyFrameStream(Stream inner, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        _reader = new SnappyFrameReader(inner);
        _writer = new SnappyFrameWriter(inner);
    }

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
        _writer.Write(buffer);
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
        return _writer.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _writer.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _writer.FlushAsync(cancellationToken).AsTask();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            try
            {
                // Like golang/snappy Writer.Close: data written but not flushed still goes out.
                if (_writer.HasPendingData)
                {
                    _writer.Flush();
                }
            }
            finally
            {
                if (!_leaveOpen)
                {
                    _inner.Dispose();
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
                if (_writer.HasPendingData)
                {
                    await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                if (!_leaveOpen)
                {
                    await _inner.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        GC.SuppressFinalize(this);
    }
}
