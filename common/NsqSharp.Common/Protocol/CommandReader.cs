using System.Buffers;
using System.Text;

namespace NsqSharp.Common.Protocol;

/// <summary>
/// The text part of a client command as a server reads it: <c>NAME params\n</c> (or <c>\r\n</c>), params
/// split on single spaces, numbers as upstream's ByteToBase10. Spans in, spans out: FIN/REQ/TOUCH/RDY are
/// parsed without allocating.
/// </summary>
public static class CommandReader
{
    /// <summary>
    /// Takes one line (without its <c>\n</c>) off the front of <paramref name="buffer"/>, or returns false and
    /// leaves it as it is. The line may still end in <c>\r</c> (see <see cref="TrimCarriageReturn"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The line, or the buffer without a newline, is longer than <paramref name="maxLength"/>.</exception>
    public static bool TryReadLine(ref ReadOnlySequence<byte> buffer, int maxLength, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline == null)
        {
            line = default;
            if (buffer.Length > maxLength)
            {
                throw new InvalidDataException("command line too long");
            }

            return false;
        }

        line = buffer.Slice(0, newline.Value);
        if (line.Length > maxLength)
        {
            throw new InvalidDataException("command line too long");
        }

        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return true;
    }

    public static ReadOnlySpan<byte> TrimCarriageReturn(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;

    /// <summary>The command name: the line up to its first space.</summary>
    public static ReadOnlySpan<byte> Name(ReadOnlySpan<byte> line) => NextParam(line);

    /// <summary>True for the commands followed by <c>[int32 size][body]</c>.</summary>
    public static bool HasBody(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("PUB"u8) || name.SequenceEqual("MPUB"u8) || name.SequenceEqual("DPUB"u8)
        || name.SequenceEqual("IDENTIFY"u8) || name.SequenceEqual("AUTH"u8);

    /// <summary>
    /// Splits a line on single spaces (as upstream's bytes.Split) into byte strings: one char per byte
    /// (Latin-1), so valid names are the same ASCII text and an invalid one keeps the client's exact bytes.
    /// </summary>
    public static string[] Params(ReadOnlySpan<byte> line) => Encoding.Latin1.GetString(line).Split(' ');

    /// <summary>Counts the space-separated params and returns the 2nd and 3rd without allocating.</summary>
    public static int SplitParams(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> second, out ReadOnlySpan<byte> third)
    {
        second = default;
        third = default;
        var count = 1;
        var rest = line;
        var space = rest.IndexOf((byte)' ');
        while (space >= 0)
        {
            rest = rest[(space + 1)..];
            count++;
            var next = NextParam(rest);
            if (count == 2)
            {
                second = next;
            }
            else if (count == 3)
            {
                third = next;
            }

            space = rest.IndexOf((byte)' ');
        }

        return count;
    }

    /// <summary>The param at the start of <paramref name="rest"/>: up to the next space or the end.</summary>
    public static ReadOnlySpan<byte> NextParam(ReadOnlySpan<byte> rest)
    {
        var space = rest.IndexOf((byte)' ');
        return space < 0 ? rest : rest[..space];
    }

    /// <summary>
    /// Upstream's ByteToBase10: digits only (no sign), so "-1" is a parse error and "" is 0; the value is a
    /// uint64 that wraps on overflow as Go's does, so 20-digit counts get upstream's range errors, not a
    /// parse error.
    /// </summary>
    public static bool TryParseBase10(ReadOnlySpan<byte> digits, out ulong value)
    {
        value = 0;
        foreach (var b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                value = 0;
                return false;
            }

            value = unchecked((value * 10) + (ulong)(b - '0'));
        }

        return true;
    }
}
