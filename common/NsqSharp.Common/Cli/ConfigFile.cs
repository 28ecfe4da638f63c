using System.Globalization;
using System.Text;

namespace NsqSharp.Common.Cli;

/// <summary>
/// The flat TOML subset upstream's --config files use (contrib/nsqlookupd.cfg.example):
/// "key = value" lines with strings, integers, floats, booleans and arrays of those; '#' comments.
/// Keys are flag names with '_' for '-'.
/// </summary>
public static class ConfigFile
{
    public static Dictionary<string, object> Load(string path)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in File.ReadLines(path))
        {
            lineNumber++;
            var line = StripComment(rawLine).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var eq = line.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException($"{path}:{lineNumber}: expected key = value");
            }

            var key = line[..eq].Trim().Trim('"');
            values[key] = ParseValue(line[(eq + 1)..].Trim(), path, lineNumber);
        }

        return values;
    }

    private static object ParseValue(string text, string path, int lineNumber)
    {
        if (text.StartsWith('['))
        {
            if (!text.EndsWith(']'))
            {
                throw new FormatException($"{path}:{lineNumber}: unterminated array");
            }

            var items = new List<object>();
            foreach (var part in SplitArray(text[1..^1]))
            {
                if (part.Length > 0)
                {
                    items.Add(ParseValue(part, path, lineNumber));
                }
            }

            return items;
        }

        if (text.Length >= 2 && (text[0] == '"' && text[^1] == '"' || text[0] == '\'' && text[^1] == '\''))
        {
            return text[0] == '\'' ? text[1..^1] : Unescape(text[1..^1]);
        }

        if (text is "true" or "false")
        {
            return text == "true";
        }

        var number = text.Replace("_", "", StringComparison.Ordinal);
        if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer;
        }

        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
        {
            return real;
        }

        throw new FormatException($"{path}:{lineNumber}: cannot parse value '{text}'");
    }

    private static string StripComment(string line)
    {
        var quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '#')
            {
                return line[..i];
            }
        }

        return line;
    }

    private static IEnumerable<string> SplitArray(string text)
    {
        var start = 0;
        var quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == ',')
            {
                yield return text[start..i].Trim();
                start = i + 1;
            }
        }

        yield return text[start..].Trim();
    }

    private static string Unescape(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 >= text.Length)
            {
                sb.Append(text[i]);
                continue;
            }

            var next = text[++i];
            sb.Append(next switch
            {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                _ => next,
            });
        }

        return sb.ToString();
    }

    /// <summary>
    /// Turns config-file settings into "--flag=value" arguments placed before the command line's own,
    /// skipping flags the command line sets (explicit flags win). Arrays become repeated flags.
    /// Keys are flag names with '_' for '-', or an upstream cfg name listed in keyToFlag
    /// (e.g. nsqlookupd_tcp_addresses → lookupd-tcp-address).
    /// </summary>
    public static string[] PrependToArgs(string path, IReadOnlyList<string> normalizedArgs, IReadOnlyDictionary<string, string>? keyToFlag = null)
    {
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var arg in normalizedArgs)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                given.Add(eq < 0 ? arg[2..] : arg[2..eq]);
            }
        }

        var result = new List<string>();
        foreach (var (key, value) in Load(path))
        {
            var flag = keyToFlag != null && keyToFlag.TryGetValue(key, out var mapped) ? mapped : key.Replace('_', '-');
            if (given.Contains(flag) || flag == "config")
            {
                continue;
            }

            foreach (var item in value is List<object> list ? list : [value])
            {
                var text = item is bool b ? (b ? "true" : "false") : Convert.ToString(item, CultureInfo.InvariantCulture);
                result.Add("--" + flag + "=" + text);
            }
        }

        result.AddRange(normalizedArgs);
        return [.. result];
    }
}
