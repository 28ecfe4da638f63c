using System.Buffers.Binary;
using System.Text;

namespace NsqSharp.Bench.Wire;

/// <summary>
/// Encodes TCP V2 client commands. Hot-path commands (FIN, MPUB bodies) are written into
/// caller-owned buffers so the load loops allocate nothing per message.
/// </summary>
internal static class NsqCommands
{
    public const int FinLength = 4 + 16 + 1;

    public static byte[] Nop => "NOP\n"u8.ToArray();

    public static byte[] Subscribe(string topic, string channel) => Encoding.ASCII.GetBytes($"SUB {topic} {channel}\n");

    public static byte[] Ready(int count) => Encoding.ASCII.GetBytes($"RDY {count}\n");

    public static byte[] Identify(string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var command = new byte[9 + 4 + body.Length];
        "IDENTIFY\n"u8.CopyTo(command);
        BinaryPrimitives.WriteInt32BigEndian(command.AsSpan(9), body.Length);
        body.CopyTo(command.AsSpan(13));
        return command;
    }

    /// <summary>Writes "FIN &lt;id&gt;\n" and returns its length.</summary>
    public static int WriteFin(Span<byte> destination, ReadOnlySpan<byte> messageId)
    {
        "FIN "u8.CopyTo(destination);
        messageId.CopyTo(destination[4..]);
        destination[20] = (byte)'\n';
        return FinLength;
    }

    /// <summary>Length of one MPUB command carrying <paramref name="count"/> bodies of <paramref name="size"/> bytes.</summary>
    public static int MultiPublishLength(string topic, int count, int size) => 5 + topic.Length + 1 + 8 + (count * (4 + size));

    /// <summary>Length of one PUB command with a body of <paramref name="size"/> bytes.</summary>
    public static int PublishLength(string topic, int size) => 4 + topic.Length + 1 + 4 + size;

    /// <summary>
    /// Writes "MPUB topic\n[body size][count]([size][body])*" and returns the offsets of each body
    /// in <paramref name="bodyOffsets"/> so a caller can stamp them (latency mode) without re-encoding.
    /// </summary>
    public static int WriteMultiPublish(Span<byte> destination, string topic, int count, ReadOnlySpan<byte> body, Span<int> bodyOffsets)
    {
        var at = WriteName(destination, "MPUB "u8, topic);
        BinaryPrimitives.WriteInt32BigEndian(destination[at..], 4 + (count * (4 + body.Length)));
        BinaryPrimitives.WriteInt32BigEndian(destination[(at + 4)..], count);
        at += 8;
        for (var i = 0; i < count; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(destination[at..], body.Length);
            at += 4;
            body.CopyTo(destination[at..]);
            if (i < bodyOffsets.Length)
            {
                bodyOffsets[i] = at;
            }

            at += body.Length;
        }

        return at;
    }

    /// <summary>Writes "PUB topic\n[size][body]"; returns the total length and the body offset.</summary>
    public static int WritePublish(Span<byte> destination, string topic, ReadOnlySpan<byte> body, out int bodyOffset)
    {
        var at = WriteName(destination, "PUB "u8, topic);
        BinaryPrimitives.WriteInt32BigEndian(destination[at..], body.Length);
        bodyOffset = at + 4;
        body.CopyTo(destination[bodyOffset..]);
        return bodyOffset + body.Length;
    }

    private static int WriteName(Span<byte> destination, ReadOnlySpan<byte> verb, string topic)
    {
        verb.CopyTo(destination);
        var at = verb.Length;
        at += Encoding.ASCII.GetBytes(topic, destination[at..]);
        destination[at++] = (byte)'\n';
        return at;
    }
}
