namespace NsqSharp.Common.Cli;

/// <summary>
/// Rewrites Go flag-package arguments into the form CommandLineParser understands, because
/// upstream users, scripts and test suites pass "-tcp-address 127.0.0.1:4160", "-verbose",
/// "--flag=value" or "-flag=false". Value flags become "--name=value" (so a value starting with
/// '-' is never mistaken for a flag); booleans become "--name=true" or "--name=false" (a bare
/// "-name" means true, as in Go), so hosts declare them as string options parsed with TryParseGoBool.
/// </summary>
public static class GoStyleArgs
{
    public static List<string> Normalize(IReadOnlyList<string> args, IReadOnlySet<string> boolFlags, IReadOnlySet<string> valueFlags)
    {
        var result = new List<string>(args.Count);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--" or "-" || !arg.StartsWith('-'))
            {
                // Like Go, the first non-flag argument ends flag parsing.
                for (var j = arg == "--" ? i + 1 : i; j < args.Count; j++)
                {
                    result.Add(args[j]);
                }

                break;
            }

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            var eq = body.IndexOf('=');
            var name = eq < 0 ? body : body[..eq];
            var value = eq < 0 ? null : body[(eq + 1)..];
            if (name is "h" or "help")
            {
                result.Add("--help");
            }
            else if (boolFlags.Contains(name))
            {
                result.Add("--" + name + "=" + (value ?? "true"));
            }
            else if (valueFlags.Contains(name))
            {
                if (value == null && i + 1 < args.Count)
                {
                    value = args[++i];
                }

                result.Add(value == null ? "--" + name : "--" + name + "=" + value);
            }
            else
            {
                result.Add(value == null ? "--" + name : "--" + name + "=" + value);
            }
        }

        return result;
    }

    /// <summary>Go's strconv.ParseBool.</summary>
    public static bool TryParseGoBool(string text, out bool value)
    {
        switch (text)
        {
            case "1" or "t" or "T" or "TRUE" or "true" or "True":
                value = true;
                return true;
            case "0" or "f" or "F" or "FALSE" or "false" or "False":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }
}
