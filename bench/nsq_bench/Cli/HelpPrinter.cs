using System.Reflection;
using CommandLine;
using CommandLine.Text;

namespace NsqSharp.Bench.Cli;

/// <summary>
/// Help and usage errors. CommandLineParser's default verb help omits the verb's own description,
/// which is where each mode explains what it measures; this prints it above the options.
/// </summary>
internal static class HelpPrinter
{
    /// <summary>Prints help (stdout, exit 0) or the usage errors (stderr, exit 2).</summary>
    public static int Print(NotParsed<object> result, Func<string[], ParserResult<object>> parse)
    {
        var errors = result.Errors.ToList();
        if (errors.OfType<HelpVerbRequestedError>().FirstOrDefault() is { Type: { } helpFor } &&
            helpFor.GetCustomAttribute<VerbAttribute>() is { } named &&
            parse([named.Name, "--help"]) is NotParsed<object> verbHelp)
        {
            return Print(verbHelp, parse); // "nsq_bench help reader" = "nsq_bench reader --help"
        }

        if (errors.Exists(e => e is VersionRequestedError))
        {
            Console.WriteLine($"nsq_bench {NsqSharp.Common.Protocol.ProtocolConstants.ProductVersion}");
            return 0;
        }

        var verbType = errors.OfType<HelpVerbRequestedError>().FirstOrDefault()?.Type
            ?? (result.TypeInfo.Current.GetCustomAttribute<VerbAttribute>() is null ? null : result.TypeInfo.Current);
        var wantsHelp = errors.Exists(e => e is HelpRequestedError or HelpVerbRequestedError);
        var help = HelpText.AutoBuild(result, h =>
        {
            h.Heading = $"nsq_bench {NsqSharp.Common.Protocol.ProtocolConstants.ProductVersion}: load generator for NSQ-compatible brokers";
            h.Copyright = "Every run prints one JSON object of figures as its last line.";
            h.AdditionalNewLineAfterOption = false;
            if (verbType?.GetCustomAttribute<VerbAttribute>() is { } verb)
            {
                h.AddPreOptionsLine("");
                h.AddPreOptionsLine($"{verb.Name}: {verb.HelpText}");
            }

            return HelpText.DefaultParsingErrorsHandler(result, h);
        }, e => e, verbsIndex: verbType is null);
        (wantsHelp ? Console.Out : Console.Error).WriteLine(help);
        return wantsHelp ? 0 : 2;
    }
}
