using NsqSharp.Common.Cli;
using System.Runtime.InteropServices;
using CommandLine;
using CommandLine.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Tools;
using NsqSharp.Tools.Tail;

// nsq_tail: consume NSQ topics and print message bodies to stdout (flags as upstream nsq 1.3.0).
var args2 = GoStyleArgs.Normalize(args, TailOptions.Switches, TailOptions.NoValueFlags, booleansAsSwitches: true, TailOptions.ShortNames);
using var parser = new Parser(s =>
{
    s.AllowMultiInstance = true;
    s.AutoVersion = false;
    s.AutoHelp = true;
    s.HelpWriter = null;
    s.CaseSensitive = true;
});
var parsed = parser.ParseArguments<TailOptions>(args2);
if (parsed is NotParsed<TailOptions> notParsed)
{
    var help = HelpText.AutoBuild(parsed, h =>
    {
        h.Heading = $"nsq_tail v{ProtocolConstants.ProductVersion} - print messages of NSQ topics to stdout";
        h.Copyright = "Flags may be written Go-style (-topic=x) or GNU-style (--topic x).";
        h.AddDashesToOption = true;
        h.AutoVersion = false;
        return HelpText.DefaultParsingErrorsHandler(parsed, h);
    }, e => e);
    var isHelp = notParsed.Errors.All(e => e.Tag == ErrorType.HelpRequestedError);
    (isHelp ? Console.Out : Console.Error).WriteLine(help);
    return isHelp ? 0 : 2;
}

var options = ((Parsed<TailOptions>)parsed).Value;
if (options.Version)
{
    Console.WriteLine($"nsq_tail v{ProtocolConstants.ProductVersion}");
    return 0;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});

await using var stdout = Console.OpenStandardOutput();
return await new TailApp(options, stdout, Console.Error).RunAsync(stop.Token);
