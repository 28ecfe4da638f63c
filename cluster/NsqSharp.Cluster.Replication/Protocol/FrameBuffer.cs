using System.Buffers;

namespace NsqSharp.Cluster.Replication.Protocol;

/// <summary>One connection's reusable frame buffer (see <see cref="ReplicationCodec.ReadFrameAsync(Stream, FrameBuffer, CancellationToken)"/>):
/// rented from the shared pool, replaced by a bigger one when a frame needs it, returned on dispose.</summary>
public sealed class FrameBuffer : IDisposable
{
    private readonly byte[] _header = new byte[5];
    private byte[] _body = [];

    public Memory<byte> Header => _header;

    /// <summary>The first <paramref name="length"/> bytes of a buffer of at least that size (its old content is gone).</summary>
    public Memory<byte> Take(int length)
    {
        if (_body.Length < length)
        {
            Return();
            _body = ArrayPool<byte>.Shared.Rent(length);
        }

        return _body.AsMemory(0, length);
    }

    public void Dispose() => Return();

    private void Return()
    {
        if (_body.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_body);
            _body = [];
        }
    }
}
