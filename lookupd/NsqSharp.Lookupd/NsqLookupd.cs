using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Common.Http;
using NsqSharp.Common.Net;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Cluster;
using NsqSharp.Lookupd.Http;
using NsqSharp.Lookupd.Registry;
using NsqSharp.Lookupd.Tcp;

namespace NsqSharp.Lookupd;

/// <summary>
/// A running nsqlookupd: the registry, the TCP V1 listener for nsqd nodes and the HTTP API; in cluster mode
/// (<see cref="LookupdOptions.EtcdEndpoints"/>) also the cluster's etcd view and controller candidate.
/// Both listeners are bound before either serves, so the IDENTIFY response carries real ports
/// even when configured with port 0.
/// </summary>
public sealed class NsqLookupd : IAsyncDisposable
{
    private readonly LookupdOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private LookupTcpServer? _tcp;
    private LookupHttpServer? _http;
    private LookupCluster? _cluster;

    public NsqLookupd(LookupdOptions options, ILoggerFactory? loggerFactory = null, ILookupRegistry? registry = null)
    {
        _options = options;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("nsqlookupd");
        Registry = registry ?? new RegistrationDb(options);
    }

    public ILookupRegistry Registry { get; }

    public EndPoint TcpEndPoint => _tcp?.LocalEndPoint ?? throw new InvalidOperationException("not started");

    public EndPoint HttpEndPoint => _http?.LocalEndPoint ?? throw new InvalidOperationException("not started");

    /// <summary>Bound TCP port (0 for a unix socket).</summary>
    public int TcpPort => (TcpEndPoint as IPEndPoint)?.Port ?? 0;

    public int HttpPort => (HttpEndPoint as IPEndPoint)?.Port ?? 0;

    /// <summary>Binds both listeners and starts serving. Throws if an address cannot be bound.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        _logger.LogInformation("nsqlookupd v{Version} (NsqSharp {Product})", ProtocolConstants.CompatibleVersion, ProtocolConstants.ProductVersion);
        var tcpLogger = _loggerFactory.CreateLogger("nsqlookupd.tcp");
        _tcp = LookupTcpServer.Bind(ListenAddress.Parse(_options.TcpAddress), _options, tcpLogger);
        try
        {
            var httpLogger = _loggerFactory.CreateLogger("nsqlookupd.http");
            var router = new HttpRouter(httpLogger);
            var api = new LookupHttpApi(Registry, httpLogger);
            if (_options.IsClusterMode)
            {
                MapClusterRoutes(router, api, httpLogger);
            }
            else
            {
                api.MapRoutes(router);
            }

            _http = await LookupHttpServer.StartAsync(ListenAddress.Parse(_options.HttpAddress), router, _loggerFactory, ct)
                .ConfigureAwait(false);
            _logger.LogInformation("HTTP: listening on {Address}", ListenAddress.Format(_http.LocalEndPoint));
        }
        catch
        {
            await _tcp.DisposeAsync().ConfigureAwait(false);
            _tcp = null;
            if (_cluster != null)
            {
                await _cluster.DisposeAsync().ConfigureAwait(false);
                _cluster = null;
            }

            throw;
        }

        var identify = IdentifyResponse.Build(_options.BroadcastAddress, _options.Hostname, HttpPort, TcpPort,
            ProtocolConstants.CompatibleVersion);
        _tcp.Start(Registry, identify);

        // Not awaited: etcd being away must neither fail nor delay the start (LookupCluster retries in the background).
        _cluster?.Start(_options.BroadcastAddress + ":" + HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Cluster mode's routes over the standalone ones; a method of its own so standalone never touches the cluster types.</summary>
    private void MapClusterRoutes(HttpRouter router, LookupHttpApi api, ILogger httpLogger)
    {
        _cluster = new LookupCluster(_options, _loggerFactory);
        new ClusterHttpApi(_cluster, api, Registry, httpLogger).MapRoutes(router);
    }

    /// <summary>Closes the listeners and every nsqd connection.</summary>
    public async Task StopAsync()
    {
        if (_tcp != null)
        {
            await _tcp.DisposeAsync().ConfigureAwait(false);
            _tcp = null;
        }

        if (_http != null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
            _http = null;
        }

        // Last, once no request can use it: stops the controller (which resigns the role) and the watcher.
        if (_cluster != null)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
            _cluster = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
