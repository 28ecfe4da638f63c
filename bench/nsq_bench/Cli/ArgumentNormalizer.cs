using System.Reflection;
using CommandLine;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Cli;

/// <summary>
/// Accepts bench_writer/bench_reader's Go-style flags ("-topic=x", "-runfor 10s") after the verb:
/// the verb stays first, the rest goes through <see cref="GoStyleArgs"/> with every option name of
/// every verb known as a value flag (nsq_bench has no boolean switches besides --help). A list flag given
/// several times (--lookupd-http-address=a --lookupd-http-address=b) becomes one comma-separated value.
/// </summary>
internal static class ArgumentNormalizer
{
    public static string[] Normalize(string[] args, IEnumerable<Type> verbTypes)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
        {
            return args;
        }

        var valueFlags = new HashSet<string>(StringComparer.Ordinal);
        var listFlags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in verbTypes)
        {
            foreach (var property in type.GetProperties())
            {
                if (property.GetCustomAttribute<OptionAttribute>() is { LongName.Length: > 0 } option)
                {
                    valueFlags.Add(option.LongName);
                    if (property.PropertyType != typeof(string) && typeof(IEnumerable<string>).IsAssignableFrom(property.PropertyType))
                    {
                        listFlags.Add(option.LongName);
                    }
                }
            }
        }

        var normalized = GoStyleArgs.Normalize(args[1..], new HashSet<string>(StringComparer.Ordinal), valueFlags);
        return [args[0], .. JoinRepeated(normalized, listFlags)];
    }

    /// <summary>"--name=a" ... "--name=b" → one "--name=a,b" where the first stood (the rest left as they are).</summary>
    private static List<string> JoinRepeated(List<string> args, HashSet<string> listFlags)
    {
        var result = new List<string>(args.Count);
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var arg in args)
        {
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2 && listFlags.Contains(arg[2..eq]))
            {
                var name = arg[2..eq];
                if (first.TryGetValue(name, out var at))
                {
                    result[at] += "," + arg[(eq + 1)..];
                    continue;
                }

                first[name] = result.Count;
            }

            result.Add(arg);
        }

        return result;
    }
}
