namespace NsqSharp.Common.Tests.Compression;

/// <summary>
/// Single-threaded byte queue: writes append, reads consume what is there (0 when empty).
/// Lets tests feed a reader exactly what a writer produced without allocating.
/// </summary>
internal sealed class InMemoryPipeStream : Stream
{
    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;

    public int Available => _end - _start;

    /// <summary>Caps each Read to simulate a transport that delivers data in small pieces.</summary>
    public int MaxReadSize { get; set; } = int.MaxValue;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public int FlushCount { get; private set; }

    public byte[] ToArray() => _buffer.AsSpan(_start, Available).ToArray();

    public override void Flush() => FlushCount++;

    // Synchronous completions, so async tests stay on one thread and allocation-free.
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        Flush();
        return Task.CompletedTask;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(buffer.Length, Available), MaxReadSize);
        _buffer.AsSpan(_start, n).CopyTo(buffer);
        _start += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        if (_end + buffer.Length > _buffer.Length)
        {
            var bigger = new byte[Math.Max(_buffer.Length * 2, Available + buffer.Length)];
            _buffer.AsSpan(_start, Available).CopyTo(bigger);
            _end = Available;
            _start = 0;
            _buffer = bigger;
        }

        buffer.CopyTo(_buffer.AsSpan(_end));
        _end += buffer.Length;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
