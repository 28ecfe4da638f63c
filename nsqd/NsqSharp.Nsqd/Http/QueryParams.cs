namespace NsqSharp.Nsqd.Http;

/// <summary>A raw query string parsed like Go's url.ParseQuery: repeated keys kept in order, bad escapes rejected.</summary>
internal sealed class QueryParams
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private QueryParams()
    {
    }

    /// <summary>Null when the query is malformed (upstream answers 400 INVALID_REQUEST).</summary>
    public static QueryParams? Parse(string? rawQuery)
    {
        var result = new QueryParams();
        var query = (rawQuery ?? "").TrimStart('?');
        foreach (var part in query.Split('&'))
        {
            if (part.Length == 0)
            {
                continue;
            }

            if (part.Contains(';', StringComparison.Ordinal))
            {
                return null;
            }

            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? part : part[..eq];
            var value = eq < 0 ? "" : part[(eq + 1)..];
            if (!TryUnescape(key, out key) || !TryUnescape(value, out value))
            {
                return null;
            }

            if (!result._values.TryGetValue(key, out var list))
            {
                result._values[key] = list = [];
            }

            list.Add(value);
        }

        return result;
    }

    public bool Has(string key) => _values.ContainsKey(key);

    /// <summary>The first value of a key, or null when absent.</summary>
    public string? Get(string key) => _values.TryGetValue(key, out var list) ? list[0] : null;

    private static bool TryUnescape(string s, out string result)
    {
        s = s.Replace('+', ' ');
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && (i + 2 >= s.Length || !Uri.IsHexDigit(s[i + 1]) || !Uri.IsHexDigit(s[i + 2])))
            {
                result = "";
                return false;
            }
        }

        result = Uri.UnescapeDataString(s);
        return true;
    }
}
