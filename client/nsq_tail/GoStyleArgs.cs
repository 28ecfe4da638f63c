using System.Globalization;

namespace NsqSharp.Tools;

/// <summary>
/// Lets the tools accept Go <c>flag</c> syntax as upstream's do: <c>-topic=x</c>, <c>-topic x</c>, <c>--topic=x</c>,
/// <c>-print-topic</c>, <c>-print-topic=false</c>. CommandLineParser wants <c>--name</c> and bare boolean switches,
/// so single-dash flags get a second dash and <c>=true</c>/<c>=false</c> on switches become present/absent.
/// </summary>
internal static class GoStyleArgs
{
    /// <param name="args">argv as given.</param>
    /// <param name="switches">Boolean flags (no value).</param>
    /// <param name="shortNames">One-letter flags (CommandLineParser needs them as <c>-x value</c>).</param>
    public static string[] Normalize(IEnumerable<string> args, IReadOnlySet<string> switches, IReadOnlySet<string>? shortNames = null)
    {
        var result = new List<string>();
        var rest = false;
        foreach (var arg in args)
        {
            if (rest || arg == "--")
            {
                rest = true;
                result.Add(arg);
                continue;
            }

            var text = arg;
            if (text.Length > 1 && text[0] == '-' && text[1] != '-' && !IsNumber(text))
            {
                text = "-" + text;
            }

            if (text.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = text.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? text[2..] : text[2..eq];
                if (name is "h" or "help")
                {
                    result.Add("--help");
                    continue;
                }

                if (shortNames?.Contains(name) == true)
                {
                    result.Add("-" + name);
                    if (eq >= 0)
                    {
                        result.Add(text[(eq + 1)..]);
                    }

                    continue;
                }

                if (eq >= 0 && switches.Contains(name))
                {
                    // Go accepts -flag=true/false for booleans; CommandLineParser only knows presence.
                    if (bool.TryParse(text[(eq + 1)..], out var on) || TryGoBool(text[(eq + 1)..], out on))
                    {
                        if (on)
                        {
                            result.Add("--" + name);
                        }

                        continue;
                    }
                }
            }

            result.Add(text);
        }

        return [.. result];
    }

    private static bool IsNumber(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static bool TryGoBool(string text, out bool value)
    {
        value = text is "1" or "t" or "T" or "TRUE" or "true" or "True";
        return value || text is "0" or "f" or "F" or "FALSE" or "false" or "False";
    }
}
