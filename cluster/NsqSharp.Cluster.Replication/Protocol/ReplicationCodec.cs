using System.Buffers.Binary;
using System.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Broker.Cursors;

namespace NsqSharp.Cluster.Replication.Protocol;

/// <summary>
/// Encoding of the replica fetch protocol: after the 4-byte magic "  R1" on nsqd's TCP port, frames of
/// [int32 size][byte type][body], big-endian like NSQ's V2; strings as [uint16 length][UTF-8]. A fetch response's
/// batches are the rest of its frame, exactly as the leader's log stores them.
/// </summary>
public static class ReplicationCodec
{
    /// <summary>The connection's first four bytes (V2 clients send "  V2").</summary>
    public static ReadOnlySpan<byte> Magic => ProtocolConstants.MagicReplica;

    /// <summary>Largest frame either side accepts: the largest fetch plus headers.</summary>
    public const int MaxFrameBytes = MaxFetchBytes + 1024;

    /// <summary>Largest batch payload a fetch returns (a request asking more is capped to this).</summary>
    public const int MaxFetchBytes = 32 * 1024 * 1024;

    /// <summary>Largest cursor response body the leader builds: channels that do not fit wait for the next request
    /// (<see cref="CursorResponse.More"/>), and one channel's state never exceeds it (<see cref="CursorEntriesFitting"/>).</summary>
    public const int MaxCursorBytes = 24 * 1024 * 1024;

    /// <summary>A pending entry on the wire: int64 offset, uint16 attempts, byte flags (1 = in flight), int64 due ms.</summary>
    public const int CursorEntryBytes = 19;

    private const int MaxStringBytes = 1024;
    private const byte InFlightFlag = 1;

    public static async Task WriteAsync(Stream stream, FetchRequest r, CancellationToken ct)
    {
        var body = new Writer(64 + r.Topic.Length + r.ReplicaId.Length);
        body.String(r.Topic).Int32(r.Partition).String(r.ReplicaId).Int64(r.LeaderEpoch).Int64(r.FetchOffset).Int32(r.MaxBytes).Int32(r.MaxWaitMs);
        await WriteFrameAsync(stream, ReplicationMessageType.FetchRequest, body.Written, default, ct).ConfigureAwait(false);
    }

    public static async Task WriteAsync(Stream stream, FetchResponse r, CancellationToken ct)
    {
        var body = new Writer(48);
        body.Int16((short)r.Error).Int64(r.LeaderEpoch).Int64(r.HighWatermark).Int64(r.LogStart).Int64(r.LogEnd);
        await WriteFrameAsync(stream, ReplicationMessageType.FetchResponse, body.Written, r.Batches, ct).ConfigureAwait(false);
    }

    public static async Task WriteAsync(Stream stream, EpochEndRequest r, CancellationToken ct)
    {
        var body = new Writer(48 + r.Topic.Length + r.ReplicaId.Length);
        body.String(r.Topic).Int32(r.Partition).String(r.ReplicaId).Int64(r.LeaderEpoch).Int64(r.Epoch);
        await WriteFrameAsync(stream, ReplicationMessageType.EpochEndRequest, body.Written, default, ct).ConfigureAwait(false);
    }

    public static async Task WriteAsync(Stream stream, EpochEndResponse r, CancellationToken ct)
    {
        var body = new Writer(24);
        body.Int16((short)r.Error).Int64(r.Epoch).Int64(r.EndOffset);
        await WriteFrameAsync(stream, ReplicationMessageType.EpochEndResponse, body.Written, default, ct).ConfigureAwait(false);
    }

    public static async Task WriteAsync(Stream stream, CursorRequest r, CancellationToken ct)
    {
        var body = new Writer(64 + r.Topic.Length + r.ReplicaId.Length + (r.Known.Count * 32));
        body.String(r.Topic).Int32(r.Partition).String(r.ReplicaId).Int64(r.LeaderEpoch).Int32(r.Known.Count);
        foreach (var known in r.Known)
        {
            body.String(known.Channel).Int64(known.Version);
        }

        await WriteFrameAsync(stream, ReplicationMessageType.CursorRequest, body.Written, default, ct).ConfigureAwait(false);
    }

    public static async Task WriteAsync(Stream stream, CursorResponse r, CancellationToken ct)
    {
        var body = new Writer(CursorResponseSize(r.Channels));
        body.Int16((short)r.Error).Int64(r.LeaderEpoch).Byte(r.More ? (byte)1 : (byte)0).Int32(r.Channels.Count);
        foreach (var channel in r.Channels)
        {
            var state = channel.State;
            body.String(channel.Channel).Int64(state.Version).Int64(state.NextRead).Int32(state.Pending.Count);
            foreach (var (offset, entry) in state.Pending)
            {
                body.Int64(offset).Int16((short)entry.Attempts).Byte(entry.InFlight ? InFlightFlag : (byte)0).Int64(entry.DueMs);
            }
        }

        await WriteFrameAsync(stream, ReplicationMessageType.CursorResponse, body.Written, default, ct).ConfigureAwait(false);
    }

    /// <summary>Bytes one channel's state takes in a cursor response.</summary>
    public static long CursorSize(string channel, PartitionCursorState state) =>
        2 + Encoding.UTF8.GetByteCount(channel) + 8 + 8 + 4 + ((long)state.Pending.Count * CursorEntryBytes);

    /// <summary>How many pending entries of a channel's state fit in <paramref name="budget"/> bytes.</summary>
    public static int CursorEntriesFitting(string channel, long budget) =>
        (int)Math.Clamp((budget - CursorSize(channel, new PartitionCursorState(0))) / CursorEntryBytes, 0, int.MaxValue);

    private static int CursorResponseSize(IReadOnlyList<ReplicatedCursor> channels)
    {
        long size = 2 + 8 + 1 + 4;
        foreach (var channel in channels)
        {
            size += CursorSize(channel.Channel, channel.State);
        }

        return size <= MaxFrameBytes - 1 ? (int)size : throw new ArgumentException($"cursor response of {size} bytes exceeds the frame limit");
    }

    /// <summary>
    /// Reads one frame: its type and body (a buffer of exactly the body's size). Null at a clean end of stream
    /// before a frame; InvalidDataException for a bad size or a truncated frame.
    /// </summary>
    /// <summary>
    /// Reads one frame into <paramref name="buffer"/> (grown from the shared pool as needed, reused for the next frame):
    /// the follower's fetch responses, up to <see cref="MaxFetchBytes"/> each, without a large allocation per fetch. The
    /// body is valid until the next read into the same buffer.
    /// </summary>
    public static async Task<(ReplicationMessageType Type, ReadOnlyMemory<byte> Body)?> ReadFrameAsync(Stream stream, FrameBuffer buffer, CancellationToken ct)
    {
        var header = buffer.Header;
        int read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < header.Length)
        {
            throw new InvalidDataException("replication frame truncated in its header");
        }

        int size = BinaryPrimitives.ReadInt32BigEndian(header.Span);
        if (size < 1 || size > MaxFrameBytes)
        {
            throw new InvalidDataException($"replication frame size {size} out of range");
        }

        var body = buffer.Take(size - 1);
        if (await stream.ReadAtLeastAsync(body, body.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false) < body.Length)
        {
            throw new InvalidDataException("replication frame truncated");
        }

        return ((ReplicationMessageType)header.Span[4], body);
    }

    public static async Task<(ReplicationMessageType Type, byte[] Body)?> ReadFrameAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[5];
        int read = await ReadAtLeastAsync(stream, header, ct).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < header.Length)
        {
            throw new InvalidDataException("replication frame truncated in its header");
        }

        int size = BinaryPrimitives.ReadInt32BigEndian(header);
        if (size < 1 || size > MaxFrameBytes)
        {
            throw new InvalidDataException($"replication frame size {size} out of range");
        }

        var body = new byte[size - 1];
        if (await ReadAtLeastAsync(stream, body, ct).ConfigureAwait(false) < body.Length)
        {
            throw new InvalidDataException("replication frame truncated");
        }

        return ((ReplicationMessageType)header[4], body);
    }

    public static FetchRequest ReadFetchRequest(ReadOnlySpan<byte> body)
    {
        var r = new Reader(body);
        var result = new FetchRequest(r.String(), r.Int32(), r.String(), r.Int64(), r.Int64(), r.Int32(), r.Int32());
        r.End();
        return result;
    }

    public static FetchResponse ReadFetchResponse(ReadOnlyMemory<byte> body)
    {
        var r = new Reader(body.Span);
        var error = (ReplicationError)r.Int16();
        long epoch = r.Int64(), hw = r.Int64(), start = r.Int64(), end = r.Int64();
        return new FetchResponse(error, epoch, hw, start, end, body[r.Position..]);
    }

    public static EpochEndRequest ReadEpochEndRequest(ReadOnlySpan<byte> body)
    {
        var r = new Reader(body);
        var result = new EpochEndRequest(r.String(), r.Int32(), r.String(), r.Int64(), r.Int64());
        r.End();
        return result;
    }

    public static EpochEndResponse ReadEpochEndResponse(ReadOnlySpan<byte> body)
    {
        var r = new Reader(body);
        var result = new EpochEndResponse((ReplicationError)r.Int16(), r.Int64(), r.Int64());
        r.End();
        return result;
    }

    public static CursorRequest ReadCursorRequest(ReadOnlySpan<byte> body)
    {
        var r = new Reader(body);
        string topic = r.String();
        int partition = r.Int32();
        string replica = r.String();
        long epoch = r.Int64();
        int count = r.Count(minBytesEach: 2 + 8);
        var known = new List<KnownCursor>(count);
        for (var i = 0; i < count; i++)
        {
            known.Add(new KnownCursor(r.String(), r.Int64()));
        }

        r.End();
        return new CursorRequest(topic, partition, replica, epoch, known);
    }

    /// <summary>Decodes a cursor response; every channel's state carries <paramref name="partition"/> (the request's).</summary>
    public static CursorResponse ReadCursorResponse(ReadOnlySpan<byte> body, int partition)
    {
        var r = new Reader(body);
        var error = (ReplicationError)r.Int16();
        long epoch = r.Int64();
        bool more = r.Byte() switch
        {
            0 => false,
            1 => true,
            var b => throw new InvalidDataException($"cursor response: bad more flag {b}"),
        };
        int count = r.Count(minBytesEach: 2 + 8 + 8 + 4);
        var channels = new List<ReplicatedCursor>(count);
        for (var i = 0; i < count; i++)
        {
            string name = r.String();
            var state = new PartitionCursorState(partition) { Version = r.Int64(), NextRead = r.Int64() };
            int entries = r.Count(minBytesEach: CursorEntryBytes);
            state.ResetPending(entries);
            for (var e = 0; e < entries; e++)
            {
                long offset = r.Int64();
                var entry = new CursorEntryState { Attempts = (ushort)r.Int16() };
                var flags = r.Byte();
                if ((flags & ~InFlightFlag) != 0)
                {
                    throw new InvalidDataException($"cursor response: unknown entry flags {flags}");
                }

                entry.InFlight = flags == InFlightFlag;
                entry.DueMs = r.Int64();
                if (offset < 0 || entry.DueMs < 0 || !state.Pending.TryAdd(offset, entry))
                {
                    throw new InvalidDataException($"cursor response: bad or repeated pending offset {offset} for channel {name}");
                }
            }

            channels.Add(new ReplicatedCursor(name, state));
        }

        r.End();
        return new CursorResponse(error, epoch, more, channels);
    }

    private static async Task WriteFrameAsync(Stream stream, ReplicationMessageType type, ReadOnlyMemory<byte> body, ReadOnlyMemory<byte> tail, CancellationToken ct)
    {
        var header = new byte[5];
        BinaryPrimitives.WriteInt32BigEndian(header, 1 + body.Length + tail.Length);
        header[4] = (byte)type;
        await stream.WriteAsync(header, ct).ConfigureAwait(false);
        await stream.WriteAsync(body, ct).ConfigureAwait(false);
        if (!tail.IsEmpty)
        {
            await stream.WriteAsync(tail, ct).ConfigureAwait(false);
        }

        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    private static async Task<int> ReadAtLeastAsync(Stream stream, byte[] buffer, CancellationToken ct) =>
        await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);

    private sealed class Writer(int capacity)
    {
        private byte[] _buffer = new byte[capacity];
        private int _length;

        public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

        public Writer String(string value)
        {
            int count = Encoding.UTF8.GetByteCount(value);
            if (count > MaxStringBytes)
            {
                throw new ArgumentException($"string of {count} bytes is too long for the replication protocol");
            }

            Int16((short)count);
            Encoding.UTF8.GetBytes(value, Grow(count));
            return this;
        }

        public Writer Byte(byte v)
        {
            Grow(1)[0] = v;
            return this;
        }

        public Writer Int16(short v)
        {
            BinaryPrimitives.WriteInt16BigEndian(Grow(2), v);
            return this;
        }

        public Writer Int32(int v)
        {
            BinaryPrimitives.WriteInt32BigEndian(Grow(4), v);
            return this;
        }

        public Writer Int64(long v)
        {
            BinaryPrimitives.WriteInt64BigEndian(Grow(8), v);
            return this;
        }

        private Span<byte> Grow(int count)
        {
            if (_length + count > _buffer.Length)
            {
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
            }

            var span = _buffer.AsSpan(_length, count);
            _length += count;
            return span;
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public string String()
        {
            int count = (ushort)Int16();
            if (count > MaxStringBytes)
            {
                throw new InvalidDataException($"string of {count} bytes in a replication frame");
            }

            var text = Encoding.UTF8.GetString(Take(count));
            return text;
        }

        public byte Byte() => Take(1)[0];

        public short Int16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

        /// <summary>An int32 count of items that each take at least <paramref name="minBytesEach"/> bytes: refused when
        /// negative or more than the rest of the frame could hold (no allocation sized by a bad count).</summary>
        public int Count(int minBytesEach)
        {
            int count = Int32();
            if (count < 0 || count > (_data.Length - Position) / minBytesEach)
            {
                throw new InvalidDataException($"count {count} does not fit in the replication frame");
            }

            return count;
        }

        public int Int32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

        public readonly void End()
        {
            if (Position != _data.Length)
            {
                throw new InvalidDataException($"{_data.Length - Position} unexpected bytes at the end of a replication frame");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (Position + count > _data.Length)
            {
                throw new InvalidDataException("replication frame too short");
            }

            var span = _data.Slice(Position, count);
            Position += count;
            return span;
        }
    }
}
