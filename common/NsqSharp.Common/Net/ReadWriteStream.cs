namespace NsqSharp.Common.Net;

/// <summary>
/// Joins a read-only and a write-only stream over the same transport into one duplex stream,
/// so a deflate connection can be handled like a snappy or plain one, and a replica connection read
/// through the connection's pipe is handed on as one stream.
/// </summary>
public sealed class ReadWriteStream : Stream
{
    private readonly Stream _reader;
    private readonly Stream _writer;
    private readonly Stream _transport;
    private readonly bool _leaveOpen;
    private bool _disposed;

    public ReadWriteStream(Stream reader, Stream writer, Stream transport, bool leaveOpen)
    {
        _reader = reader;
        _writer = writer;
        _transport = transport;
        _leaveOpen = leaveOpen;
    }

    public override bool CanRead => !_disposed;

    public override bool CanWrite => !_disposed;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => _reader.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _reader.Read(buffer);

    public override int ReadByte() => _reader.ReadByte();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _reader.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _reader.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _writer.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => _writer.Write(buffer);

    public override void WriteByte(byte value) => _writer.WriteByte(value);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _writer.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _writer.WriteAsync(buffer, cancellationToken);

    public override void Flush() => _writer.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _writer.FlushAsync(cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            try
            {
                _writer.Dispose();
            }
            finally
            {
                _reader.Dispose();
                if (!_leaveOpen)
                {
                    _transport.Dispose();
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
                await _writer.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                await _reader.DisposeAsync().ConfigureAwait(false);
                if (!_leaveOpen)
                {
                    await _transport.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        GC.SuppressFinalize(this);
    }
}
