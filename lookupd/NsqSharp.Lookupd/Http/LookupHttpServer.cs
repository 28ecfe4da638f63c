using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Http;
using NsqSharp.Common.Net;

namespace NsqSharp.Lookupd.Http;

/// <summary>Kestrel serving the router: HTTP/1.1 only, bounded connections and request sizes.</summary>
internal sealed class LookupHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LookupHttpServer(WebApplication app, EndPoint localEndPoint)
    {
        _app = app;
        LocalEndPoint = localEndPoint;
    }

    public EndPoint LocalEndPoint { get; }

    public static async Task<LookupHttpServer> StartAsync(ListenAddress address, HttpRouter router, ILoggerFactory loggerFactory,
        CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = 10_000;
            kestrel.Limits.MaxRequestBodySize = 1024 * 1024; // no lookupd endpoint reads a body
            kestrel.Limits.MaxRequestLineSize = 16 * 1024;
            void Http1(ListenOptions listen) => listen.Protocols = HttpProtocols.Http1;
            if (address.IsUnixSocket)
            {
                kestrel.ListenUnixSocket(address.EndPoint.ToString()!, Http1);
            }
            else
            {
                kestrel.Listen((IPEndPoint)address.EndPoint, Http1);
            }
        });

        var app = builder.Build();
        app.Run(router.DispatchAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        return new LookupHttpServer(app, BoundEndPoint(app, address));
    }

    /// <summary>The real endpoint after binding, so port 0 works.</summary>
    private static EndPoint BoundEndPoint(WebApplication app, ListenAddress address)
    {
        if (address.IsUnixSocket)
        {
            return address.EndPoint;
        }

        var requested = (IPEndPoint)address.EndPoint;
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses != null)
        {
            foreach (var bound in addresses)
            {
                if (Uri.TryCreate(bound, UriKind.Absolute, out var uri))
                {
                    return new IPEndPoint(requested.Address, uri.Port);
                }
            }
        }

        return requested;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
