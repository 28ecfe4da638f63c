namespace NsqSharp.Common.Cli;

/// <summary>
/// Lets our executables take upstream's command lines unchanged: Go's flag package accepts
/// "-name value", "-name=value", "--name=value" and bare booleans ("-snappy"), while
/// CommandLineParser wants "--name value". Also merges a TOML-ish --config file (keys are flag
/// names with '_' for '-'); command-line flags win over the file.
/// </summary>
public static class GoStyleArgs
{
    /// <summary>Rewrites argv: single dashes become double, "--flag=value" splits, known boolean flags get an explicit value.</summary>
    public static string[] Normalize(IReadOnlyList<string> args, IReadOnlySet<string> booleanFlags)
    {
        var result = new List<string>(args.Count + 4);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--" || !arg.StartsWith('-') || arg.Length < 2 || char.IsAsciiDigit(arg[1]))
            {
                result.Add(arg);
                continue;
            }

            var name = arg.TrimStart('-');
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }

            if (name is "h" or "help")
            {
                result.Add("--help");
                continue;
            }

            if (booleanFlags.Contains(name))
            {
                // Go booleans take a value only with '=': "-snappy false" is a flag then an argument.
                result.Add("--" + name);
                result.Add(value ?? "true");
                continue;
            }

            result.Add("--" + name);
            if (value != null)
            {
                result.Add(value);
            }
        }

        return [.. result];
    }

    /// <summary>
    /// Reads "key = value" lines (strings in quotes, numbers, booleans, ["arrays", "of", "strings"]),
    /// skipping comments and [sections], into flags placed before the command line's own.
    /// </summary>
    public static string[] WithConfigFile(string[] normalizedArgs)
    {
        var index = Array.IndexOf(normalizedArgs, "--config");
        if (index < 0 || index + 1 >= normalizedArgs.Length)
        {
            return normalizedArgs;
        }

        var path = normalizedArgs[index + 1];
        var fromFile = new List<string>();
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in normalizedArgs)
        {
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                given.Add(a[2..]);
            }
        }

        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(path))
        {
            lineNumber++;
            var line = StripComment(raw).Trim();
            if (line.Length == 0 || line.StartsWith('['))
            {
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"{path}:{lineNumber}: expected key = value");
            }

            var flag = line[..eq].Trim().Replace('_', '-');
            if (given.Contains(flag))
            {
                continue;
            }

            var value = line[(eq + 1)..].Trim();
            if (value.StartsWith('['))
            {
                foreach (var item in value.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    fromFile.Add("--" + flag);
                    fromFile.Add(Unquote(item));
                }
            }
            else
            {
                fromFile.Add("--" + flag);
                fromFile.Add(Unquote(value));
            }
        }

        return [.. fromFile, .. normalizedArgs];
    }

    private static string StripComment(string line)
    {
        var inQuotes = false;
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                inQuotes = !inQuotes;
            }
            else if (line[i] == '#' && !inQuotes)
            {
                return line[..i];
            }
        }

        return line;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
}
