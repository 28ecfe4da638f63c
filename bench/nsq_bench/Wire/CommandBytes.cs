using System.Buffers;
using System.Text;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Wire;

/// <summary>
/// Commands (encoded by <see cref="CommandWriter"/>) as arrays of their own: control-plane commands, and the
/// publish commands the load loops build once and send again and again, so those loops allocate nothing.
/// </summary>
internal static class CommandBytes
{
    public static byte[] Of(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Identify(string json) => Of(w => CommandWriter.WriteIdentify(w, Encoding.UTF8.GetBytes(json)));

    public static byte[] Subscribe(string topic, string channel) => Of(w => CommandWriter.WriteSub(w, topic, channel));

    public static byte[] Ready(int count) => Of(w => CommandWriter.WriteRdy(w, count));

    /// <summary>
    /// PUB of <paramref name="body"/> for a batch of one, else MPUB of <paramref name="batchSize"/> copies of it;
    /// <paramref name="bodyOffsets"/> says where each copy is, so latency mode can stamp them without re-encoding.
    /// </summary>
    public static byte[] Publish(string topic, int batchSize, byte[] body, out int[] bodyOffsets)
    {
        var command = batchSize == 1
            ? Of(w => CommandWriter.WritePub(w, topic, body))
            : Of(w => CommandWriter.WriteMpub(w, topic, Enumerable.Repeat((ReadOnlyMemory<byte>)body, batchSize).ToArray()));

        // Either way the bodies end the command, each one the tail of a [size][body] record.
        bodyOffsets = new int[batchSize];
        for (var i = 0; i < batchSize; i++)
        {
            bodyOffsets[i] = command.Length - ((batchSize - i) * (4 + body.Length)) + 4;
        }

        return command;
    }
}
