namespace NsqSharp.Chaos.History;

/// <summary>
/// Shares one string instance per distinct process, node, channel and key text, so a million-line
/// history does not hold a million copies of "n1". Bounded: past the cap new texts are just allocated.
/// </summary>
internal sealed class StringPool(int capacity = 16_384)
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);

    public string Get(ReadOnlySpan<char> text)
    {
        // The span lookup finds a known text without allocating a string for it first.
        if (_strings.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text, out var shared))
        {
            return shared;
        }

        var s = new string(text);
        if (_strings.Count < capacity)
        {
            _strings.Add(s, s);
        }

        return s;
    }
}
