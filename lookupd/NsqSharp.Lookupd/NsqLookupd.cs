using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NsqSharp.Common.Http;
using NsqSharp.Common.Net;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Http;
using NsqSharp.Lookupd.Registry;
using NsqSharp.Lookupd.Tcp;

namespace NsqSharp.Lookupd;

/// <summary>
/// A running nsqlookupd: the registry, the TCP V1 listener for nsqd nodes and the HTTP API.
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
            var router = new HttpRouter(_loggerFactory.CreateLogger("nsqlookupd.http"));
            new LookupHttpApi(Registry, _loggerFactory.CreateLogger("nsqlookupd.http")).MapRoutes(router);
            _http = await LookupHttpServer.StartAsync(ListenAddress.Parse(_options.HttpAddress), router, _loggerFactory, ct)
                .ConfigureAwait(false);
            _logger.LogInformation("HTTP: listening on {Address}", ListenAddress.Format(_http.LocalEndPoint));
        }
        catch
        {
            await _tcp.DisposeAsync().ConfigureAwait(false);
            _tcp = null;
            throw;
        }

        var identify = IdentifyResponse.Build(_options.BroadcastAddress, _options.Hostname, HttpPort, TcpPort,
            ProtocolConstants.CompatibleVersion);
        _tcp.Start(Registry, identify);
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
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
