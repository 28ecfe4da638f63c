using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace NsqSharp.Lookupd.Tcp;

/// <summary>Bounded reads and framed writes over a connection's pipes.</summary>
internal static class PipeIo
{
    public enum LineStatus
    {
        Line,
        EndOfStream,
        TooLong,
    }

    /// <summary>Reads up to and excluding '\n'. Anything longer than <paramref name="maxLength"/> is refused without buffering more.</summary>
    public static async ValueTask<(LineStatus Status, string Line)> ReadLineAsync(PipeReader reader, int maxLength, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is { } end)
            {
                var line = buffer.Slice(0, end);
                if (line.Length > maxLength)
                {
                    reader.AdvanceTo(buffer.End);
                    return (LineStatus.TooLong, "");
                }

                var text = Encoding.UTF8.GetString(line);
                reader.AdvanceTo(buffer.GetPosition(1, end));
                return (LineStatus.Line, text);
            }

            if (buffer.Length > maxLength)
            {
                reader.AdvanceTo(buffer.End);
                return (LineStatus.TooLong, "");
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return (LineStatus.EndOfStream, "");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes; null if the stream ends first.</summary>
    public static async ValueTask<byte[]?> ReadExactlyAsync(PipeReader reader, int count, CancellationToken ct)
    {
        if (count == 0)
        {
            return [];
        }

        while (true)
        {
            var result = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var data = buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(buffer.GetPosition(count));
                return data;
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public static async ValueTask<int?> ReadInt32BigEndianAsync(PipeReader reader, CancellationToken ct)
    {
        var bytes = await ReadExactlyAsync(reader, 4, ct).ConfigureAwait(false);
        return bytes == null ? null : BinaryPrimitives.ReadInt32BigEndian(bytes);
    }

    /// <summary>Upstream's protocol.SendResponse: [int32 size][data], no frame type.</summary>
    public static async ValueTask SendResponseAsync(PipeWriter writer, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var span = writer.GetSpan(4 + data.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, data.Length);
        data.Span.CopyTo(span[4..]);
        writer.Advance(4 + data.Length);
        await writer.FlushAsync(ct).ConfigureAwait(false);
    }

    public static ValueTask SendResponseAsync(PipeWriter writer, string text, CancellationToken ct) =>
        SendResponseAsync(writer, Encoding.UTF8.GetBytes(text), ct);
}
