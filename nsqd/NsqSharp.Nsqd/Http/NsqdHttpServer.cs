using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Http;

/// <summary>Kestrel hosting for the nsqd HTTP API (and HTTPS when a TLS cert is configured).</summary>
internal sealed class NsqdHttpServer : IAsyncDisposable
{
    private readonly NsqdServer _server;
    private WebApplication? _app;

    public NsqdHttpServer(NsqdServer server)
    {
        _server = server;
    }

    public IPEndPoint HttpEndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public IPEndPoint? HttpsEndPoint { get; private set; }

    public async Task StartAsync()
    {
        var options = _server.Options;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var httpEndpoint = NsqdServer.ParseEndPoint(options.HttpAddress);
        IPEndPoint? httpsEndpoint = _server.Tls != null ? NsqdServer.ParseEndPoint(options.HttpsAddress) : null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = Math.Max(options.MaxBodySize, options.MaxMsgSize) + 1024;
            // HTTPS is bound first: once plain HTTP answers (what clients and tests wait for),
            // the HTTPS port it advertises in TLS_REQUIRED replies is already listening.
            if (httpsEndpoint != null)
            {
                k.Listen(httpsEndpoint, l =>
                {
                    l.Protocols = HttpProtocols.Http1;
                    l.UseHttps(HttpsOptions(_server.Tls!));
                });
            }

            k.Listen(httpEndpoint, l => l.Protocols = HttpProtocols.Http1);
        });
        // Kestrel's sockets transport, guarded: accept backoff and the descriptor reserve (see GuardedSocketTransport).
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(new GuardedSocketTransportFactory(_server.LoggerFactory));
        _app = builder.Build();
        var api = new NsqdHttpApi(_server, _server.LoggerFactory.CreateLogger("nsqd.http"))
        {
            // Known before the first request when the port is configured; resolved below for port 0.
            HttpsPort = httpsEndpoint?.Port ?? 0,
        };
        _app.Run(api.HandleAsync);
        await _app.StartAsync().ConfigureAwait(false);

        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        foreach (var address in addresses)
        {
            var uri = new Uri(address.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
            var ep = new IPEndPoint(IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? ip : IPAddress.Loopback, uri.Port);
            if (uri.Scheme == "https")
            {
                HttpsEndPoint = ep;
            }
            else
            {
                HttpEndPoint = ep;
            }
        }

        api.HttpsPort = HttpsEndPoint?.Port ?? 0;
        _server.LoggerFactory.CreateLogger("nsqd").LogInformation("HTTP: listening on {Endpoint}", HttpEndPoint);
    }

    /// <summary>HTTPS with the TCP listener's certificate and client-auth policy (upstream shares one tls.Config).</summary>
    private static HttpsConnectionAdapterOptions HttpsOptions(Protocol.TlsSettings tls) => new()
    {
        ServerCertificate = tls.Certificate,
        SslProtocols = tls.Protocols,
        ClientCertificateMode = tls.ClientCertificateRequired ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.NoCertificate,
        ClientCertificateValidation = tls.ValidateClientCertificate,
    };

    public async ValueTask DisposeAsync()
    {
        if (_app != null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
