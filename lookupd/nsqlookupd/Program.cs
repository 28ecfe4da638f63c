using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Hosting;
using NsqSharp.Lookupd;
using NsqSharp.Lookupd.Host;

// nsqlookupd: flags as upstream (single- or double-dash), SIGTERM/SIGINT stop it gracefully.
if (!HostCommandLine.TryParse<CommandLineOptions>(args, VersionString(), "Usage of nsqlookupd:", out var flags, out var exitCode,
        CommandLineOptions.BoolFlags))
{
    return exitCode;
}

if (HostCommandLine.IsSet(flags.Version))
{
    Console.WriteLine(VersionString());
    return 0;
}

HostSettings settings;
try
{
    settings = HostSettings.Resolve(flags);
}
catch (ClusterSettingsException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

var (loggerFactory, _) = HostLogging.Create(settings.LogLevel, settings.LogPrefix);
using var loggerFactoryScope = loggerFactory;
var logger = loggerFactory.CreateLogger("nsqlookupd");

using var stop = new ShutdownSignal();

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
