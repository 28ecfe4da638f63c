using System.Reflection;
using CommandLine;
using NsqSharp.Common.Cli;

namespace NsqSharp.Bench.Cli;

/// <summary>
/// Accepts bench_writer/bench_reader's Go-style flags ("-topic=x", "-runfor 10s") after the verb:
/// the verb stays first, the rest goes through <see cref="GoStyleArgs"/> with every option name of
/// every verb known as a value flag (nsq_bench has no boolean switches besides --help).
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
        foreach (var type in verbTypes)
        {
            foreach (var property in type.GetProperties())
            {
                if (property.GetCustomAttribute<OptionAttribute>() is { LongName.Length: > 0 } option)
                {
                    valueFlags.Add(option.LongName);
                }
            }
        }

        return [args[0], .. GoStyleArgs.Normalize(args[1..], new HashSet<string>(StringComparer.Ordinal), valueFlags)];
    }
}
