using System.Text;

namespace NsqSharp.Common.Http;

/// <summary>
/// Query parameters parsed as Go's url.ParseQuery does, because upstream's handlers answer
/// 400 INVALID_REQUEST when it fails (bad %-escape, ';' separator) and read only the first value
/// of a repeated key. "?topic=" is present-and-empty, distinct from absent.
/// </summary>
public sealed class GoQuery
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private GoQuery()
    {
    }

    /// <summary>The first value for the key, or null if the key is absent.</summary>
    public string? Get(string key) => _values.TryGetValue(key, out var list) ? list[0] : null;

    /// <param name="rawQuery">The raw query, with or without the leading "?".</param>
    /// <param name="query">The parsed values, also when parsing reported an error.</param>
    public static bool TryParse(string? rawQuery, out GoQuery query)
    {
        query = new GoQuery();
        var rest = (rawQuery ?? "").AsSpan();
        if (rest.StartsWith("?"))
        {
            rest = rest[1..];
        }

        var ok = true;
        while (!rest.IsEmpty)
        {
            var amp = rest.IndexOf('&');
            var pair = amp < 0 ? rest : rest[..amp];
            rest = amp < 0 ? [] : rest[(amp + 1)..];
            if (pair.Contains(';'))
            {
                ok = false;
                continue;
            }

            if (pair.IsEmpty)
            {
                continue;
            }

            var eq = pair.IndexOf('=');
            var rawKey = eq < 0 ? pair : pair[..eq];
            var rawValue = eq < 0 ? [] : pair[(eq + 1)..];
            if (!TryUnescape(rawKey, out var key) || !TryUnescape(rawValue, out var value))
            {
                ok = false;
                continue;
            }

            if (!query._values.TryGetValue(key, out var list))
            {
                list = new List<string>(1);
                query._values.Add(key, list);
            }

            list.Add(value);
        }

        return ok;
    }

    /// <summary>Go's QueryUnescape: '+' is a space, %XX a byte, a malformed escape an error.</summary>
    private static bool TryUnescape(ReadOnlySpan<char> text, out string result)
    {
        result = "";
        if (text.IndexOfAny('%', '+') < 0)
        {
            result = text.ToString();
            return true;
        }

        var bytes = new List<byte>(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            switch (text[i])
            {
                case '%':
                    if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
                    {
                        return false;
                    }

                    bytes.Add((byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2])));
                    i += 3;
                    break;
                case '+':
                    bytes.Add((byte)' ');
                    i++;
                    break;
                default:
                    var start = i;
                    while (i < text.Length && text[i] != '%' && text[i] != '+')
                    {
                        i++;
                    }

                    bytes.AddRange(Encoding.UTF8.GetBytes(text[start..i].ToString()));
                    break;
            }
        }

        result = Encoding.UTF8.GetString(bytes.ToArray());
        return true;
    }

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
