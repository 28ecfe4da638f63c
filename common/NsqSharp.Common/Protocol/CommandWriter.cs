using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// Encodes client commands (<c>NAME params\n</c>, for some followed by <c>[int32 size][body]</c>) straight into
/// a buffer writer: no intermediate strings or arrays, so publishing and acknowledging allocate nothing here.
/// Names must already be valid (ASCII); ids are the 16 bytes the message came with.
/// </summary>
public static class CommandWriter
{
    /// <summary>Longest decimal a long takes ("-9223372036854775808").</summary>
    private const int MaxNumberLength = 20;

    public static ReadOnlySpan<byte> Nop => "NOP\n"u8;

    public static ReadOnlySpan<byte> Cls => "CLS\n"u8;

    /// <summary>Bytes of <c>PUB topic\n[size][body]</c>.</summary>
    public static int PubLength(string topic, int bodyLength) => 4 + topic.Length + 1 + 4 + bodyLength;

    /// <summary>Bytes of <c>MPUB topic\n[size][body]</c>; a long, as a batch may not fit in an int.</summary>
    public static long MpubLength(string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies) => 5 + topic.Length + 1 + 4 + MultiPublishBody.Length(bodies);

    /// <summary>Most bytes of <c>DPUB topic ms\n[size][body]</c> (the delay's digits vary).</summary>
    public static int DpubMaxLength(string topic, int bodyLength) => 5 + topic.Length + 1 + MaxNumberLength + 1 + 4 + bodyLength;

    public static void WriteMagic(IBufferWriter<byte> writer) => Write(writer, ProtocolConstants.MagicV2);

    public static void WriteIdentify(IBufferWriter<byte> writer, ReadOnlySpan<byte> json) => WriteNamedBody(writer, "IDENTIFY\n"u8, json);

    public static void WriteAuth(IBufferWriter<byte> writer, ReadOnlySpan<byte> secret) => WriteNamedBody(writer, "AUTH\n"u8, secret);

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
        var span = writer.GetSpan(PubLength(topic, body.Length));
        var n = Copy(span, "PUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)'\n';
        n += SizedBody(span[n..], body);
        writer.Advance(n);
    }

    public static void WriteDpub(IBufferWriter<byte> writer, string topic, long deferMilliseconds, ReadOnlySpan<byte> body)
    {
        var span = writer.GetSpan(DpubMaxLength(topic, body.Length));
        var n = Copy(span, "DPUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)' ';
        n += Number(span[n..], deferMilliseconds);
        span[n++] = (byte)'\n';
        n += SizedBody(span[n..], body);
        writer.Advance(n);
    }

    /// <summary>The MPUB line and body size, then the body record by record (a batch need not be one span).</summary>
    public static void WriteMpub(IBufferWriter<byte> writer, string topic, IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        var bodyLength = checked((int)MultiPublishBody.Length(bodies));
        var span = writer.GetSpan(5 + topic.Length + 1 + 4);
        var n = Copy(span, "MPUB "u8);
        n += Ascii(span[n..], topic);
        span[n++] = (byte)'\n';
        BinaryPrimitives.WriteInt32BigEndian(span[n..], bodyLength);
        writer.Advance(n + 4);
        MultiPublishBody.Write(writer, bodies);
    }

    public static void WriteRdy(IBufferWriter<byte> writer, long count)
    {
        var span = writer.GetSpan(4 + MaxNumberLength + 1);
        var n = Copy(span, "RDY "u8);
        n += Number(span[n..], count);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteFin(IBufferWriter<byte> writer, ReadOnlySpan<byte> id) => WriteWithId(writer, "FIN "u8, id);

    public static void WriteTouch(IBufferWriter<byte> writer, ReadOnlySpan<byte> id) => WriteWithId(writer, "TOUCH "u8, id);

    public static void WriteReq(IBufferWriter<byte> writer, ReadOnlySpan<byte> id, long delayMilliseconds)
    {
        var span = writer.GetSpan(4 + id.Length + 1 + MaxNumberLength + 1);
        var n = Copy(span, "REQ "u8);
        n += Copy(span[n..], id);
        span[n++] = (byte)' ';
        n += Number(span[n..], delayMilliseconds);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    public static void WriteNop(IBufferWriter<byte> writer) => Write(writer, Nop);

    public static void WriteCls(IBufferWriter<byte> writer) => Write(writer, Cls);

    private static void WriteWithId(IBufferWriter<byte> writer, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> id)
    {
        var span = writer.GetSpan(prefix.Length + id.Length + 1);
        var n = Copy(span, prefix);
        n += Copy(span[n..], id);
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    private static void WriteNamedBody(IBufferWriter<byte> writer, ReadOnlySpan<byte> line, ReadOnlySpan<byte> body)
    {
        var span = writer.GetSpan(line.Length + 4 + body.Length);
        var n = Copy(span, line);
        n += SizedBody(span[n..], body);
        writer.Advance(n);
    }

    /// <summary><c>[int32 size][body]</c>; returns its length.</summary>
    private static int SizedBody(Span<byte> destination, ReadOnlySpan<byte> body)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, body.Length);
        body.CopyTo(destination[4..]);
        return 4 + body.Length;
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
