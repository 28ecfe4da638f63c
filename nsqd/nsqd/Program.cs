using Microsoft.Extensions.Logging;
using NsqSharp.Common.Protocol;
using NsqSharp.Hosting;
using NsqSharp.Nsqd;
using NsqSharp.Nsqd.Host;

// nsqd: the NsqSharp broker node. A thin host: parse upstream-compatible flags, start NsqdServer,
// stop gracefully on SIGTERM/SIGINT (nothing acknowledged is lost either way).
var version = $"nsqd v{ProtocolConstants.CompatibleVersion} (nsqsharp {ProtocolConstants.ProductVersion})";
if (!HostCommandLine.TryParse<NsqdCommandLine>(args, version, "Usage of nsqd:", out var cli, out var exitCode,
        NsqdCommandLine.BooleanFlags, configKeys: NsqdCommandLine.ConfigKeys))
{
    return exitCode;
}

if (HostCommandLine.IsSet(cli.Version))
{
    Console.WriteLine(version);
    return 0;
}

NsqdOptions options;
NsqSharp.Cluster.Replication.Agent.ClusterAgentOptions? clusterOptions;
try
{
    options = cli.ToOptions();
    clusterOptions = cli.ToClusterOptions(options);
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

var (loggerFactory, logLevel) = HostLogging.Create(options.LogLevel, cli.LogPrefix);
using var loggerFactoryScope = loggerFactory;
var logger = loggerFactory.CreateLogger("nsqd");

await using var server = new NsqdServer(options, loggerFactory)
{
    SetLogLevel = logLevel.TrySet,
    Cluster = clusterOptions is null ? null : new NsqSharp.Cluster.Replication.Agent.ClusterAgent(clusterOptions, loggerFactory),
};
using var stop = new ShutdownSignal();
try
{
    await server.StartAsync();
}
catch (NsqSharp.Nsqd.Metadata.MetadataException e)
{
    // one FATAL line and a non-zero exit, as upstream's logFatal
    logger.LogCritical("failed to load metadata - {Error}", e.Message);
    return 1;
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
