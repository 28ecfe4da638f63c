namespace NsqSharp.Common.Cli;

/// <summary>
/// Rewrites Go flag-package arguments into the form CommandLineParser understands, because
/// upstream users, scripts and test suites pass "-tcp-address 127.0.0.1:4160", "-verbose",
/// "--flag=value" or "-flag=false". Value flags become "--name=value" (so a value starting with
/// '-' is never mistaken for a flag). Booleans (a bare "-name" means true, as in Go) become either
/// "--name=true|false" (boolFlags: string options parsed with TryParseGoBool, needed for flags that
/// default to true, like nsqd's --snappy), or a bare "--name" when true and nothing when false
/// (switches: plain bool options). One-letter flags in shortNames stay "-x value".
/// </summary>
public static class GoStyleArgs
{
    public static List<string> Normalize(IReadOnlyList<string> args, IReadOnlySet<string> boolFlags, IReadOnlySet<string> valueFlags,
        IReadOnlySet<string>? switches = null, IReadOnlySet<string>? shortNames = null)
    {
        var result = new List<string>(args.Count);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (IsNumber(arg))
            {
                result.Add(arg); // a negative number is a value ("--max-in-flight -1"), not a flag
                continue;
            }

            if (arg == "--")
            {
                // Everything after "--" is passed on untouched.
                for (var j = i; j < args.Count; j++)
                {
                    result.Add(args[j]);
                }

                break;
            }

            if (arg == "-" || !arg.StartsWith('-'))
            {
                result.Add(arg); // a value of the previous flag, or a positional argument
                continue;
            }

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            var eq = body.IndexOf('=');
            var name = eq < 0 ? body : body[..eq];
            var value = eq < 0 ? null : body[(eq + 1)..];
            if (name is "h" or "help")
            {
                result.Add("--help");
            }
            else if (shortNames?.Contains(name) == true)
            {
                result.Add("-" + name);
                if (value != null)
                {
                    result.Add(value);
                }
            }
            else if (switches?.Contains(name) == true)
            {
                if (value == null || TryParseGoBool(value, out var on) && on)
                {
                    result.Add("--" + name);
                }
                else if (!TryParseGoBool(value, out _))
                {
                    result.Add("--" + name + "=" + value); // let the parser report it
                }
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

    private static bool IsNumber(string text) =>
        text.Length > 1 && text[0] == '-' && double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);

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
