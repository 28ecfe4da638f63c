using System.Net.Sockets;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Wire;

/// <summary>
/// Receives server frames into one reusable buffer and hands them out in place (header checks:
/// <see cref="FrameReader"/>): no copy, no allocation per frame. The buffer grows only for a frame larger than it.
/// </summary>
internal sealed class FrameBuffer
{
    /// <summary>Upper bound on the data of a frame we accept (upstream's --max-msg-size is 1 MiB by default).</summary>
    public const int MaxFrameSize = 64 * 1024 * 1024;

    private byte[] _buffer;
    private int _start;
    private int _end;

    public FrameBuffer(int capacity) => _buffer = new byte[capacity];

    public int Capacity => _buffer.Length;

    /// <summary>Parses the next complete frame; false when more bytes are needed.</summary>
    public bool TryRead(out FrameType type, out int dataOffset, out int dataLength)
    {
        type = default;
        dataOffset = 0;
        dataLength = 0;
        var available = _end - _start;
        if (available < ProtocolConstants.FrameHeaderLength)
        {
            return false;
        }

        var length = FrameReader.ReadHeader(_buffer.AsSpan(_start), MaxFrameSize, out var frameType);
        var frameLength = FrameWriter.Length(length);
        if (available < frameLength)
        {
            if (frameLength > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, frameLength));
            }

            return false;
        }

        type = frameType;
        dataOffset = _start + ProtocolConstants.FrameHeaderLength;
        dataLength = length;
        _start += frameLength;
        return true;
    }

    public ReadOnlySpan<byte> Data(int offset, int length) => _buffer.AsSpan(offset, length);

    /// <summary>Receives more bytes; false when the peer closed the connection.</summary>
    public async ValueTask<bool> FillAsync(Socket socket, CancellationToken ct = default)
    {
        Compact();
        var received = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct).ConfigureAwait(false);
        _end += received;
        return received > 0;
    }

    /// <summary>Blocking variant for dedicated-thread loops.</summary>
    public bool Fill(Socket socket)
    {
        Compact();
        var received = socket.Receive(_buffer.AsSpan(_end), SocketFlags.None);
        _end += received;
        return received > 0;
    }

    private void Compact()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_start > 0 && _buffer.Length - _end < _buffer.Length / 4)
        {
            // Slide the partial frame down only when space runs short, to keep copies rare.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
    }
}
