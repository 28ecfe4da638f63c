using System.Buffers;
using System.Buffers.Binary;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// The body of MPUB (TCP, and HTTP /mpub?binary=true): <c>[int32 count]([int32 size][bytes])×count</c>.
/// Parsing checks every size before handing out any message, since MPUB is atomic.
/// </summary>
public static class MultiPublishBody
{
    public static long Length(IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        long total = 4;
        for (var i = 0; i < bodies.Count; i++)
        {
            total += 4 + bodies[i].Length;
        }

        return total;
    }

    public static void Write(IBufferWriter<byte> writer, IReadOnlyList<ReadOnlyMemory<byte>> bodies)
    {
        BinaryPrimitives.WriteInt32BigEndian(writer.GetSpan(4), bodies.Count);
        writer.Advance(4);
        for (var i = 0; i < bodies.Count; i++)
        {
            var body = bodies[i].Span;
            var span = writer.GetSpan(4 + body.Length);
            BinaryPrimitives.WriteInt32BigEndian(span, body.Length);
            body.CopyTo(span[4..]);
            writer.Advance(4 + body.Length);
        }
    }

    /// <summary>
    /// Splits <paramref name="body"/> into its messages (slices of it). False at the first fault, described
    /// by <paramref name="error"/> in upstream's order of checks so a server can answer with upstream's text.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> body, long maxMessageSize, long maxBodySize,
        out List<ReadOnlyMemory<byte>> messages, out MultiPublishError error)
    {
        messages = [];
        error = default;
        var span = body.Span;
        if (span.Length < 4)
        {
            error = new MultiPublishError(MultiPublishFault.MissingCount, 0, 0);
            return false;
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(span);
        var maxMessages = (maxBodySize - 4) / 5; // the most one body can hold: a size and one byte each
        if (count <= 0 || count > maxMessages)
        {
            error = new MultiPublishError(MultiPublishFault.InvalidCount, 0, count);
            return false;
        }

        messages = new List<ReadOnlyMemory<byte>>(Math.Min(count, 4096));
        var pos = 4;
        for (var i = 0; i < count; i++)
        {
            if (span.Length - pos < 4)
            {
                error = new MultiPublishError(MultiPublishFault.MissingSize, i, 0);
                return false;
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(span[pos..]);
            pos += 4;
            var fault = size <= 0 ? MultiPublishFault.InvalidSize
                : size > maxMessageSize ? MultiPublishFault.TooBig
                : span.Length - pos < size ? MultiPublishFault.MissingBody
                : MultiPublishFault.None;
            if (fault != MultiPublishFault.None)
            {
                error = new MultiPublishError(fault, i, size);
                return false;
            }

            messages.Add(body.Slice(pos, size));
            pos += size;
        }

        return true;
    }
}

/// <summary>What is wrong with an MPUB body, in the order upstream checks it.</summary>
public enum MultiPublishFault
{
    None,
    MissingCount,
    InvalidCount,
    MissingSize,
    InvalidSize,
    TooBig,
    MissingBody,
}

/// <summary>A fault of an MPUB body: at message <see cref="Index"/>, with the count or size read (<see cref="Value"/>).</summary>
public readonly record struct MultiPublishError(MultiPublishFault Fault, int Index, long Value);
