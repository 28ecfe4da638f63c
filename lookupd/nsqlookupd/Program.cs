using System.Runtime.InteropServices;
using CommandLine;
using CommandLine.Text;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd;
using NsqSharp.Lookupd.Host;

// nsqlookupd: flags as upstream (single- or double-dash), SIGTERM/SIGINT stop it gracefully.
var normalized = GoStyleArgs.Normalize(args, CommandLineOptions.BoolFlags, CommandLineOptions.ValueFlags);
using var parser = new Parser(settings =>
{
    settings.AutoHelp = true;
    settings.AutoVersion = false;
    settings.HelpWriter = null;
    settings.CaseSensitive = true;
    settings.AllowMultiInstance = true; // Go flags: a repeated flag takes its last value
});
var parsed = parser.ParseArguments<CommandLineOptions>(normalized);
if (parsed is NotParsed<CommandLineOptions> notParsed)
{
    var help = HelpText.AutoBuild(parsed, h =>
    {
        h.Heading = VersionString();
        h.Copyright = "Usage of nsqlookupd:";
        h.AdditionalNewLineAfterOption = false;
        h.AddDashesToOption = true;
        h.MaximumDisplayWidth = 120;
        h.AutoVersion = false; // our --version prints upstream's version string
        return HelpText.DefaultParsingErrorsHandler(parsed, h);
    }, e => e);
    var isHelp = notParsed.Errors.IsHelp();
    (isHelp ? Console.Out : Console.Error).WriteLine(help);
    return isHelp ? 0 : 2;
}

var flags = ((Parsed<CommandLineOptions>)parsed).Value;
if (flags.Version != null && (!GoStyleArgs.TryParseGoBool(flags.Version, out var showVersion) || showVersion))
{
    Console.WriteLine(VersionString());
    return 0;
}

HostSettings settings;
try
{
    settings = HostSettings.Resolve(flags);
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using var loggerFactory = LoggerFactory.Create(logging =>
{
    logging.SetMinimumLevel(settings.LogLevel);
    logging.AddFilter("Microsoft", LogLevel.Warning);
    logging.AddConsole(o =>
    {
        o.FormatterName = NsqConsoleFormatter.FormatterName;
        o.LogToStandardErrorThreshold = LogLevel.Trace; // upstream logs to stderr
    });
    logging.AddConsoleFormatter<NsqConsoleFormatter, NsqConsoleFormatterOptions>(o => o.Prefix = settings.LogPrefix);
});
var logger = loggerFactory.CreateLogger("nsqlookupd");

using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

await using var lookupd = new NsqLookupd(settings.Lookupd, loggerFactory);
try
{
    await lookupd.StartAsync(stop.Token);
}
catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or ArgumentException or InvalidOperationException)
{
    logger.LogCritical("failed to listen - {Error}", e.Message);
    return 1;
}

try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

logger.LogInformation("shutting down");
await lookupd.StopAsync();
return 0;

static string VersionString() =>
    $"nsqlookupd v{ProtocolConstants.CompatibleVersion} (NsqSharp {ProtocolConstants.ProductVersion}, .NET {Environment.Version})";
