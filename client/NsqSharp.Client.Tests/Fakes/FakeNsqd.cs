using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;

namespace NsqSharp.Client.Tests.Fakes;

/// <summary>
/// A scripted nsqd speaking TCP protocol V2 on 127.0.0.1 (port 0). Tests accept connections and drive each
/// one explicitly: read commands, send responses, errors and messages - so they test the client's wire
/// behaviour exactly as a real nsqd would see it.
/// </summary>
public sealed class FakeNsqd : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Channel<FakeClient> _accepted = Channel.CreateBounded<FakeClient>(64);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<FakeClient> _clients = [];
    private readonly Task _acceptLoop;

    public FakeNsqd(FakeServerOptions? options = null)
    {
        Options = options ?? new FakeServerOptions();
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public FakeServerOptions Options { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Next connection, after its magic was read (the client's IDENTIFY is next).</summary>
    public async Task<FakeClient> AcceptAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestTimeouts.Default);
        return await _accepted.Reader.ReadAsync(cts.Token);
    }

    /// <summary>Accepts and completes the handshake (IDENTIFY answered, upgrades done; SUB answered if subscribe).</summary>
    public async Task<FakeClient> AcceptReadyAsync(bool subscribe = false)
    {
        var client = await AcceptAsync();
        await client.HandshakeAsync();
        if (subscribe)
        {
            var sub = await client.ExpectAsync("SUB");
            client.Subscription = (sub.Args[0], sub.Args[1]);
            await client.SendResponseAsync("OK");
        }

        return client;
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }

        FakeClient[] clients;
        lock (_clients)
        {
            clients = [.. _clients];
        }

        foreach (var client in clients)
        {
            client.Dispose();
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            var client = new FakeClient(socket, Options);
            lock (_clients)
            {
                _clients.Add(client);
            }

            try
            {
                using var cts = new CancellationTokenSource(TestTimeouts.Default);
                await client.ReadMagicAsync(cts.Token);
                await _accepted.Writer.WriteAsync(client, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                client.Dispose();
            }
        }
    }
}

/// <summary>What the fake nsqd negotiates.</summary>
public sealed class FakeServerOptions
{
    /// <summary>Reply to IDENTIFY with plain OK (pre feature-negotiation nsqd).</summary>
    public bool LegacyIdentify { get; init; }

    public long MaxRdyCount { get; init; } = 2500;

    public bool AuthRequired { get; init; }

    /// <summary>Enables TLS when the client asks (tls_v1) and a certificate is set.</summary>
    public X509Certificate2? TlsCertificate { get; init; }

    /// <summary>Require a client certificate during the TLS handshake.</summary>
    public bool RequireClientCertificate { get; init; }

    public bool SnappyAvailable { get; init; } = true;

    public bool DeflateAvailable { get; init; } = true;
}

public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);
}
