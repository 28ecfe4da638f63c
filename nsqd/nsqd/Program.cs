using System.Runtime.InteropServices;
using CommandLine;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Host;

// nsqd: the NsqSharp broker node. A thin host: parse upstream-compatible flags, start NsqdServer,
// stop gracefully on SIGTERM/SIGINT (nothing acknowledged is lost either way).
string[] args2;
try
{
    args2 = GoStyleArgs.WithConfigFile(GoStyleArgs.Normalize(args, NsqdCommandLine.BooleanFlags));
}
catch (Exception e) when (e is IOException or FormatException)
{
    Console.Error.WriteLine($"nsqd: {e.Message}");
    return 1;
}

var parser = new Parser(s =>
{
    s.AllowMultiInstance = true;
    s.HelpWriter = Console.Out;
    s.CaseSensitive = true;
});
var parsed = parser.ParseArguments<NsqdCommandLine>(args2);
if (parsed is not Parsed<NsqdCommandLine> ok)
{
    var helpOnly = parsed.Errors.All(e => e is HelpRequestedError or VersionRequestedError);
    return helpOnly ? 0 : 1;
}

var cli = ok.Value;
if (cli.Version is "true")
{
    Console.WriteLine($"nsqd v{ProtocolConstants.CompatibleVersion} (nsqsharp {ProtocolConstants.ProductVersion})");
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
