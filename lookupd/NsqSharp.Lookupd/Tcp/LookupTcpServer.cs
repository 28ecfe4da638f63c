using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Net;
using NsqSharp.Common.Protocol;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Tcp;

/// <summary>
/// Accepts nsqd connections (upstream tcp.go): reads the 4-byte protocol magic, hands "  V1" to
/// <see cref="LookupProtocolV1"/>, answers anything else with E_BAD_PROTOCOL and closes.
/// </summary>
internal sealed class LookupTcpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly LookupdOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly AcceptBackoff _acceptBackoff = new();
    private readonly LogRateLimiter _refusals = new(TimeSpan.FromSeconds(10));
    private LookupProtocolV1? _protocol;
    private Task _acceptLoop = Task.CompletedTask;
    private long _nextConnectionId;

    private LookupTcpServer(Socket listener, LookupdOptions options, ILogger logger)
    {
        _listener = listener;
        _options = options;
        _logger = logger;
    }

    public EndPoint LocalEndPoint => _listener.LocalEndPoint!;

    /// <summary>Binds and listens now, so the real port is known before anything is served.</summary>
    public static LookupTcpServer Bind(ListenAddress address, LookupdOptions options, ILogger logger)
    {
        Socket socket;
        if (address.IsUnixSocket)
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            var ip = (IPEndPoint)address.EndPoint;
            socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (!OperatingSystem.IsWindows())
            {
                // As Go does: a restarted lookupd can rebind while old connections sit in TIME_WAIT.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }
        }

        try
        {
            socket.Bind(address.EndPoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new LookupTcpServer(socket, options, logger);
    }

    public void Start(ILookupRegistry registry, byte[] identifyResponse)
    {
        _protocol = new LookupProtocolV1(registry, _options, identifyResponse, _logger);
        _logger.LogInformation("TCP: listening on {Address}", ListenAddress.Format(LocalEndPoint));
        _acceptLoop = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e)
            {
                // Transient accept failures (e.g. EMFILE) must not end the server; back off (5 ms doubling
                // to 1 s) instead of retrying the connection still in the backlog at once.
                var waited = await _acceptBackoff.FailedAndWaitAsync(
                    (delay, suppressed) => _logger.LogError("TCP: accept() failure - {Error}; retrying in {Delay} ms ({Suppressed} more since the last report)",
                        e.Message, (long)delay.TotalMilliseconds, suppressed),
                    _shutdown.Token).ConfigureAwait(false);
                if (!waited)
                {
                    break;
                }

                continue;
            }

            _acceptBackoff.Succeeded();
            if (_connections.Count >= _options.MaxTcpClients || DescriptorLimit.IsInReserve(client, out _))
            {
                // Beyond the cap, or into the descriptors kept free for the runtime (see DescriptorLimit).
                if (_refusals.ShouldLog(out var suppressed))
                {
                    _logger.LogWarning("TCP: refusing client({Client}), {Open} connections open ({Suppressed} more refused since the last report)",
                        ListenAddress.Format(client.RemoteEndPoint), _connections.Count, suppressed);
                }

                client.Dispose();
                continue;
            }

            // Registered before it runs, so a fast-closing connection cannot remove itself first.
            var id = Interlocked.Increment(ref _nextConnectionId);
            var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[id] = HandleAsync(id, client, registered.Task);
            registered.SetResult();
        }
    }

    private async Task HandleAsync(long id, Socket socket, Task registered)
    {
        await registered.ConfigureAwait(false);
        var remote = ListenAddress.Format(socket.RemoteEndPoint);
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            socket.NoDelay = true;
        }

        var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 4096, leaveOpen: true));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        try
        {
            _logger.LogInformation("TCP: new client({Client})", remote);
            timeout.CancelAfter(_options.HandshakeTimeout);
            var magic = await PipeIo.ReadExactlyAsync(reader, 4, timeout.Token).ConfigureAwait(false);
            if (magic == null)
            {
                _logger.LogError("failed to read protocol version - EOF");
                return;
            }

            _logger.LogInformation("CLIENT({Client}): desired protocol magic '{Magic}'", remote, ProtocolConstants.Utf8.GetString(magic));
            if (!magic.AsSpan().SequenceEqual(ProtocolConstants.MagicV1))
            {
                _logger.LogError("client({Client}) bad protocol magic '{Magic}'", remote, ProtocolConstants.Utf8.GetString(magic));
                await PipeIo.SendResponseAsync(writer, "E_BAD_PROTOCOL", timeout.Token).ConfigureAwait(false);
                return;
            }

            await _protocol!.RunAsync(reader, writer, remote, timeout).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (!_shutdown.IsCancellationRequested)
            {
                _logger.LogInformation("CLIENT({Client}): closing idle connection", remote);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            _logger.LogInformation("CLIENT({Client}): connection error - {Error}", remote, e.Message);
        }
        catch (Exception e)
        {
            // A bug in handling one client must never take the process down.
            _logger.LogError(e, "CLIENT({Client}): unexpected error", remote);
        }
        finally
        {
            try
            {
                await reader.CompleteAsync().ConfigureAwait(false);
                await writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // the peer is gone; nothing left to flush
            }

            await stream.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_shutdown.IsCancellationRequested)
        {
            return;
        }

        _logger.LogInformation("TCP: closing {Address}", ListenAddress.Format(LocalEndPoint));
        await _shutdown.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        var open = _connections.Values.ToArray();
        try
        {
            await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("TCP: {Count} connections still closing", _connections.Count);
        }
    }
}
