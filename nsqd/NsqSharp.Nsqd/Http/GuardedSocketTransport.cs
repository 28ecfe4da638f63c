using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Net;

namespace NsqSharp.Nsqd.Http;

/// <summary>
/// Kestrel's socket transport with the TCP listener's accept rules. Kestrel's own listener retries a
/// failed accept at once, so at the descriptor limit it spins a core, and it lets HTTP connections take
/// the last descriptors the runtime needs (then the process dies). This one backs off on accept failures
/// (AcceptBackoff, rate-limited log) and answers a connection that took one of the reserved descriptors
/// (DescriptorLimit) with 503 {"message":"TOO_MANY_CONNECTIONS"} and closes it; accepted sockets are
/// handed to Kestrel's own SocketConnectionContextFactory, so everything after accept is unchanged.
/// </summary>
internal sealed class GuardedSocketTransportFactory(ILoggerFactory loggerFactory) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        try
        {
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var logger = loggerFactory.CreateLogger("nsqd");
        var factory = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), loggerFactory.CreateLogger("nsqd.http.transport"));
        return new ValueTask<IConnectionListener>(new GuardedSocketListener(socket, factory, logger));
    }
}

internal sealed class GuardedSocketListener(Socket socket, SocketConnectionContextFactory factory, ILogger logger) : IConnectionListener
{
    private const string TooManyConnectionsBody = "{\"message\":\"TOO_MANY_CONNECTIONS\"}";

    private static readonly byte[] TooManyConnections = Encoding.ASCII.GetBytes(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nX-NSQ-Content-Type: nsq; version=1.0\r\n" +
        $"Content-Length: {TooManyConnectionsBody.Length}\r\nConnection: close\r\n\r\n{TooManyConnectionsBody}");

    private readonly AcceptBackoff _backoff = new();
    private readonly LogRateLimiter _refusals = new(TimeSpan.FromSeconds(10));
    private readonly ConnectionRefuser _refuser = new(16, TimeSpan.FromSeconds(2));
    private readonly CancellationTokenSource _closing = new();

    public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                _backoff.Succeeded();
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException ||
                                      e is SocketException { SocketErrorCode: SocketError.OperationAborted })
            {
                return null; // unbound
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                continue; // reset while in the backlog (Kestrel's rule)
            }
            catch (SocketException e)
            {
                var waited = await _backoff.FailedAndWaitAsync(
                    (delay, suppressed) => logger.LogError("HTTP: accept() failure - {Error} ({Code}); retrying in {Delay} ms ({Suppressed} more since the last report)",
                        e.Message, e.SocketErrorCode, (long)delay.TotalMilliseconds, suppressed),
                    cancellationToken).ConfigureAwait(false);
                if (!waited)
                {
                    return null;
                }

                continue;
            }

            if (DescriptorLimit.IsInReserve(accepted, out var descriptor))
            {
                if (_refusals.ShouldLog(out var suppressed))
                {
                    logger.LogWarning("HTTP: refusing client({Client}), {InUse} of {Limit} file descriptors in use ({Suppressed} more refused since the last report)",
                        accepted.RemoteEndPoint?.ToString() ?? "unknown", descriptor + 1, DescriptorLimit.SoftLimit, suppressed);
                }

                _refuser.Refuse(accepted, TooManyConnections, _closing.Token);
                continue;
            }

            try
            {
                accepted.NoDelay = true;
                return factory.Create(accepted);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                accepted.Dispose(); // reset before we got to it
            }
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        socket.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _closing.Cancel();
        socket.Dispose();
        factory.Dispose();
        _closing.Dispose();
        return default;
    }
}
