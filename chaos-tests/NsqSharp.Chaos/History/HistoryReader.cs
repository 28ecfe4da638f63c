using System.Text;

namespace NsqSharp.Chaos.History;

/// <summary>
/// Streams a JSON-lines history: one <see cref="HistoryOp"/> per non-blank line, parsed as it is read,
/// so memory does not grow with the file. A bad line throws <see cref="HistoryFormatException"/> naming it.
/// </summary>
public static class HistoryReader
{
    private const int MaxLineBytes = 1 << 20;

    public static IEnumerable<HistoryOp> ReadFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);
        foreach (var op in Read(file))
        {
            yield return op;
        }
    }

    /// <summary>For tests and small histories held in memory.</summary>
    public static IEnumerable<HistoryOp> ReadText(string text) => Read(new MemoryStream(Encoding.UTF8.GetBytes(text)));

    public static IEnumerable<HistoryOp> Read(Stream stream)
    {
        var pool = new StringPool();
        var buffer = new byte[64 * 1024];
        int start = 0, end = 0;
        long lineNumber = 0;
        var eof = false;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', start, end - start);
            if (newline < 0 && !eof)
            {
                // No whole line left in the buffer: move the partial one to the front, grow if it fills it, read more.
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
                if (end == buffer.Length)
                {
                    if (buffer.Length >= MaxLineBytes)
                    {
                        throw new HistoryFormatException(lineNumber + 1, $"longer than {MaxLineBytes / 1024} KiB");
                    }

                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = stream.Read(buffer, end, buffer.Length - end);
                eof = read == 0;
                end += read;
                continue;
            }

            var lineEnd = newline < 0 ? end : newline;
            if (newline < 0 && lineEnd == start)
            {
                yield break;
            }

            lineNumber++;
            var op = ParseLine(buffer, start, lineEnd - start, lineNumber, pool);
            start = newline < 0 ? end : newline + 1;
            if (op is not null)
            {
                yield return op;
            }
        }
    }

    private static HistoryOp? ParseLine(byte[] buffer, int offset, int length, long lineNumber, StringPool pool)
    {
        var line = buffer.AsSpan(offset, length);
        if (lineNumber == 1 && line.StartsWith("\uFEFF"u8))
        {
            line = line[3..];
        }

        line = line.Trim(" \t\r"u8);
        return line.IsEmpty ? null : HistoryLineParser.Parse(line, lineNumber, pool);
    }
}
