using System.Runtime.InteropServices;
using CommandLine;
using CommandLine.Text;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Host;

// nsqd: the NsqSharp broker node. A thin host: parse upstream-compatible flags, start NsqdServer,
// stop gracefully on SIGTERM/SIGINT (nothing acknowledged is lost either way).
var version = $"nsqd v{ProtocolConstants.CompatibleVersion} (nsqsharp {ProtocolConstants.ProductVersion})";
string[] normalized;
try
{
    normalized = [.. GoStyleArgs.Normalize(args, NsqdCommandLine.BooleanFlags, NsqdCommandLine.ValueFlags)];
    var configIndex = Array.FindIndex(normalized, a => a.StartsWith("--config=", StringComparison.Ordinal));
    if (configIndex >= 0)
    {
        normalized = ConfigFile.PrependToArgs(normalized[configIndex]["--config=".Length..], normalized, NsqdCommandLine.ConfigKeys);
    }
}
catch (Exception e) when (e is IOException or FormatException)
{
    Console.Error.WriteLine($"nsqd: {e.Message}");
    return 2;
}

using var parser = new Parser(s =>
{
    s.AllowMultiInstance = true; // repeatable flags (--lookupd-tcp-address); a repeated scalar takes its last value
    s.AutoVersion = false;
    s.HelpWriter = null;
    s.CaseSensitive = true;
});
var parsed = parser.ParseArguments<NsqdCommandLine>(normalized);
if (parsed is NotParsed<NsqdCommandLine> notParsed)
{
    var help = HelpText.AutoBuild(parsed, h =>
    {
        h.Heading = version;
        h.Copyright = "Usage of nsqd:";
        h.AdditionalNewLineAfterOption = false;
        h.AddDashesToOption = true;
        h.MaximumDisplayWidth = 120;
        h.AutoVersion = false;
        return HelpText.DefaultParsingErrorsHandler(parsed, h);
    }, e => e);
    var isHelp = notParsed.Errors.IsHelp();
    (isHelp ? Console.Out : Console.Error).WriteLine(help);
    return isHelp ? 0 : 2;
}

var cli = ((Parsed<NsqdCommandLine>)parsed).Value;
if (cli.Version != null && (!GoStyleArgs.TryParseGoBool(cli.Version, out var showVersion) || showVersion))
{
    Console.WriteLine(version);
    return 0;
}

NsqdOptions options;
try
{
    options = cli.ToOptions();
}
catch (FormatException e)
{
    Console.Error.WriteLine($"nsqd: {e.Message}");
    return 1;
}

var problem = options.Validate();
if (problem != null)
{
    Console.Error.WriteLine($"nsqd: {problem}");
    return 1;
}

var level = new LogLevelSwitch(options.LogLevel);
using var loggerFactory = LoggerFactory.Create(b => b
    .AddFilter((_, l) => l >= level.Minimum)
    .AddSimpleConsole(c =>
    {
        c.SingleLine = true;
        c.TimestampFormat = "yyyy/MM/dd HH:mm:ss.ffffff ";
        c.UseUtcTimestamp = true;
    }));
var logger = loggerFactory.CreateLogger("nsqd");

await using var server = new NsqdServer(options, loggerFactory) { SetLogLevel = level.TrySet };
using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
try
{
    await server.StartAsync();
}
catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or InvalidDataException)
{
    logger.LogCritical("failed to start: {Error}", e.Message);
    return 1;
}

logger.LogInformation("nsqd v{Version} (nsqsharp {Product}) started; data in {Path}", ProtocolConstants.CompatibleVersion,
    ProtocolConstants.ProductVersion, server.Broker.DataPath);
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

return 0;
