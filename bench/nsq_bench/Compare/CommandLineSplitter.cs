using System.Text;

namespace NsqSharp.Bench.Compare;

/// <summary>Splits a command line like a POSIX shell would for simple cases: whitespace, '...' and "..." quoting, backslash escapes.</summary>
internal static class CommandLineSplitter
{
    public static List<string> Split(string commandLine)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        var inArg = false;
        char quote = '\0';
        for (var i = 0; i < commandLine.Length; i++)
        {
            var c = commandLine[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < commandLine.Length)
                {
                    current.Append(commandLine[++i]);
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inArg = true;
            }
            else if (c == '\\' && i + 1 < commandLine.Length)
            {
                current.Append(commandLine[++i]);
                inArg = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inArg)
                {
                    args.Add(current.ToString());
                    current.Clear();
                    inArg = false;
                }
            }
            else
            {
                current.Append(c);
                inArg = true;
            }
        }

        if (quote != '\0')
        {
            throw new FormatException($"unterminated quote in command line: {commandLine}");
        }

        if (inArg)
        {
            args.Add(current.ToString());
        }

        return args;
    }
}
