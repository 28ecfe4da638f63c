using NsqSharp.Common.Cli;
using System.Runtime.InteropServices;
using CommandLine;
using CommandLine.Text;
using NsqSharp.Common.Protocol;
using NsqSharp.Tools;
using NsqSharp.Tools.ToNsq;

// to_nsq: publish stdin, split on a delimiter, to an NSQ topic (flags as upstream nsq 1.3.0).
var normalized = GoStyleArgs.Normalize(args, ToNsqOptions.Switches, ToNsqOptions.NoValueFlags, booleansAsSwitches: true);
using var parser = new Parser(s =>
{
    s.AllowMultiInstance = true;
    s.AutoVersion = false;
    s.AutoHelp = true;
    s.HelpWriter = null;
    s.CaseSensitive = true;
});
var parsed = parser.ParseArguments<ToNsqOptions>(normalized);
if (parsed is NotParsed<ToNsqOptions> notParsed)
{
    var help = HelpText.AutoBuild(parsed, h =>
    {
        h.Heading = $"to_nsq v{ProtocolConstants.ProductVersion} - publish stdin to an NSQ topic";
        h.Copyright = "Flags may be written Go-style (-topic=x) or GNU-style (--topic x). Example: echo \"one,two\" | to_nsq -delimiter=\",\" -topic=t -nsqd-tcp-address=127.0.0.1:4150";
        h.AddDashesToOption = true;
        h.AutoVersion = false;
        return HelpText.DefaultParsingErrorsHandler(parsed, h);
    }, e => e);
    var isHelp = notParsed.Errors.All(e => e.Tag == ErrorType.HelpRequestedError);
    (isHelp ? Console.Out : Console.Error).WriteLine(help);
    return isHelp ? 0 : 2;
}

var options = ((Parsed<ToNsqOptions>)parsed).Value;
if (options.Version)
{
    Console.WriteLine($"to_nsq v{ProtocolConstants.ProductVersion}");
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

await using var stdin = Console.OpenStandardInput();
return await new ToNsqApp(options, stdin, Console.Error).RunAsync(stop.Token);
