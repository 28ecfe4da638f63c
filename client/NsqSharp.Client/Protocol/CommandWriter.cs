using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace NsqSharp.Client.Protocol;

/// <summary>
/// Encodes TCP protocol V2 commands (<c>NAME params\n</c>, optionally followed by <c>[int32 size][body]</c>)
/// straight into a buffer writer: no intermediate strings or arrays, so publishing allocates nothing here.
/// Names must already be validated (ASCII).
/// </summary>
internal static class CommandWriter
{
    private const int MaxNumberLength = 20;

    public static void WriteMagic(IBufferWriter<byte> writer) => Write(writer, "  V2"u8);

    public static void WriteIdentify(IBufferWriter<byte> writer, ReadOnlySpan<byte> json) =>
        WriteNamedBody(writer, "IDENTIFY\n"u8, json);

    public static void WriteAuth(IBufferWriter<byte> writer, ReadOnlySpan<byte> secret) =>
        WriteNamedBody(writer, "AUTH\n"u8, secret);

    public static void WriteSub(IBufferWriter<byte> writer, string topic, string channel)
    {
        var span = writer.GetSpan(4 + topic.Length + 1 + channel.Length + 1);
        var n = Copy(span, "SUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)' ';
        n += Ascii(span[n..], channel);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WritePub(IBufferWriter<byte> writer, string topic, ReadOnlySpan<byte> body)
    {
        var span = writer.GetSpan(4 + topic.Length + 1 + 4 + body.Length);
        var n = Copy(span, "PUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[n..], body.Length);
        n += 4;
        body.CopyTo(span[n..]);
        writer.Advance(n + body.Length);
    }

    public static void WriteDpub(IBufferWriter<byte> writer, string topic, long deferMilliseconds, ReadOnlySpan<byte> body)
    {
        var span = writer.GetSpan(5 + topic.Length + 1 + MaxNumberLength + 1 + 4 + body.Length);
        var n = Copy(span, "DPUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)' ';
        n += Number(span[n..], deferMilliseconds);
        span[n++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[n..], body.Length);
        n += 4;
        body.CopyTo(span[n..]);
        writer.Advance(n + body.Length);
    }

    /// <summary>Size of the MPUB body: <c>[int32 count]([int32 size][bytes])*</c>.</summary>
    public static long MultiPublishBodyLength(IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        long total = 4;
        for (var i = 0; i < bodies.Count; i++)
        {
            total += 4 + bodies[i].Length;
        }

        return total;
    }

    public static void WriteMpub(IBufferWriter<byte> writer, string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        var bodyLength = checked((int)MultiPublishBodyLength(bodies));
        var header = writer.GetSpan(5 + topic.Length + 1 + 8);
        var n = Copy(header, "MPUB "u8);
        n += Ascii(header[n..], topic);
        header[n++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(header[n..], bodyLength);
        BinaryPrimitives.WriteInt32BigEndian(header[(n + 4)..], bodies.Count);
        writer.Advance(n + 8);
        for (var i = 0; i < bodies.Count; i++)
        {
            var body = bodies[i].Span;
            var span = writer.GetSpan(4 + body.Length);
            BinaryPrimitives.WriteInt32BigEndian(span, body.Length);
            body.CopyTo(span[4..]);
            writer.Advance(4 + body.Length);
        }
    }

    public static void WriteRdy(IBufferWriter<byte> writer, long count)
    {
        var span = writer.GetSpan(4 + MaxNumberLength + 1);
        var n = Copy(span, "RDY "u8);
        n += Number(span[n..], count);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteFin(IBufferWriter<byte> writer, in NsqMessageId id) => WriteWithId(writer, "FIN "u8, id);

    public static void WriteTouch(IBufferWriter<byte> writer, in NsqMessageId id) => WriteWithId(writer, "TOUCH "u8, id);

    public static void WriteReq(IBufferWriter<byte> writer, in NsqMessageId id, long delayMilliseconds)
    {
        var span = writer.GetSpan(4 + NsqMessageId.Length + 1 + MaxNumberLength + 1);
        var n = Copy(span, "REQ "u8);
        id.CopyTo(span[n..]);
        n += NsqMessageId.Length;
        span[n++] = (byte)' ';
        n += Number(span[n..], delayMilliseconds);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteNop(IBufferWriter<byte> writer) => Write(writer, "NOP\n"u8);

    public static void WriteCls(IBufferWriter<byte> writer) => Write(writer, "CLS\n"u8);

    private static void WriteWithId(IBufferWriter<byte> writer, ReadOnlySpan<byte> prefix, in NsqMessageId id)
    {
        var span = writer.GetSpan(prefix.Length + NsqMessageId.Length + 1);
        var n = Copy(span, prefix);
        id.CopyTo(span[n..]);
        n += NsqMessageId.Length;
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    private static void WriteNamedBody(IBufferWriter<byte> writer, ReadOnlySpan<byte> line, ReadOnlySpan<byte> body)
    {
        var span = writer.GetSpan(line.Length + 4 + body.Length);
        var n = Copy(span, line);
        BinaryPrimitives.WriteInt32BigEndian(span[n..], body.Length);
        n += 4;
        body.CopyTo(span[n..]);
        writer.Advance(n + body.Length);
    }

    private static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    private static int Copy(Span<byte> destination, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination);
        return bytes.Length;
    }

    private static int Ascii(Span<byte> destination, string text) => Encoding.ASCII.GetBytes(text, destination);

    private static int Number(Span<byte> destination, long value)
    {
        value.TryFormat(destination, out var written, default, CultureInfo.InvariantCulture);
        return written;
    }
}
