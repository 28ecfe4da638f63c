namespace NsqSharp.Chaos.History;

/// <summary>A history line that cannot be read, or that contradicts the lines before it; names the 1-based line.</summary>
public sealed class HistoryFormatException(long line, string reason) : Exception($"line {line}: {reason}")
{
    public long LineNumber { get; } = line;

    public string Reason { get; } = reason;
}
