using System.Reflection;
using CommandLine;
using CommandLine.Text;
using NsqSharp.Common.Cli;

namespace NsqSharp.Hosting;

/// <summary>
/// Parses an executable's flags the way upstream's Go tools accept them (see GoStyleArgs), merges a
/// --config file when the options have one, and prints a compact --help. Go booleans that default to
/// true (nsqd's --snappy) are string options listed in explicitBooleans; plain bool properties are
/// switches. Returns the options, or the exit code to end with: 0 after --help, 2 on a bad command line.
/// </summary>
public static class HostCommandLine
{
    public static bool TryParse<T>(string[] args, string heading, string usage, out T options, out int exitCode,
        IReadOnlySet<string>? explicitBooleans = null, IReadOnlySet<string>? shortNames = null,
        IReadOnlyDictionary<string, string>? configKeys = null)
        where T : class
    {
        options = null!;
        exitCode = 0;
        explicitBooleans ??= new HashSet<string>(StringComparer.Ordinal);
        var (switches, values) = FlagKinds<T>(explicitBooleans);
        string[] normalized;
        try
        {
            normalized = [.. GoStyleArgs.Normalize(args, explicitBooleans, values, switches, shortNames)];
            var config = Array.FindIndex(normalized, a => a.StartsWith("--config=", StringComparison.Ordinal));
            if (config >= 0)
            {
                normalized = ConfigFile.PrependToArgs(normalized[config]["--config=".Length..], normalized, configKeys);
            }
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(e.Message);
            exitCode = 2;
            return false;
        }

        using var parser = new Parser(s =>
        {
            s.AllowMultiInstance = true; // repeatable flags; a repeated scalar takes its last value, as Go
            s.AutoVersion = false;
            s.HelpWriter = null;
            s.CaseSensitive = true;
        });
        var parsed = parser.ParseArguments<T>(normalized);
        if (parsed is Parsed<T> ok)
        {
            options = ok.Value;
            return true;
        }

        var help = HelpText.AutoBuild(parsed, h =>
        {
            h.Heading = heading;
            h.Copyright = usage;
            h.AdditionalNewLineAfterOption = false;
            h.AddDashesToOption = true;
            h.MaximumDisplayWidth = 120;
            h.AutoVersion = false;
            return HelpText.DefaultParsingErrorsHandler(parsed, h);
        }, e => e);
        var isHelp = ((NotParsed<T>)parsed).Errors.IsHelp();
        (isHelp ? Console.Out : Console.Error).WriteLine(help);
        exitCode = isHelp ? 0 : 2;
        return false;
    }

    /// <summary>Go's "-version" / "-version=false" for an explicit-boolean option.</summary>
    public static bool IsSet(string? explicitBoolean) =>
        explicitBoolean != null && (!GoStyleArgs.TryParseGoBool(explicitBoolean, out var on) || on);

    private static (HashSet<string> Switches, HashSet<string> Values) FlagKinds<T>(IReadOnlySet<string> explicitBooleans)
    {
        var switches = new HashSet<string>(StringComparer.Ordinal);
        var values = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in typeof(T).GetProperties())
        {
            if (property.GetCustomAttribute<OptionAttribute>() is not { LongName.Length: > 0 } option || explicitBooleans.Contains(option.LongName))
            {
                continue;
            }

            (property.PropertyType == typeof(bool) ? switches : values).Add(option.LongName);
        }

        return (switches, values);
    }
}
