using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Net;
using NsqSharp.Common.Protocol;
using NsqSharp.Nsqd.Auth;
using NsqSharp.Nsqd.Http;
using NsqSharp.Nsqd.Lookup;
using NsqSharp.Nsqd.Protocol;

namespace NsqSharp.Nsqd;

/// <summary>
/// One nsqd node: the broker (topics, channels, storage), the TCP V2 listener, the HTTP(S) API and
/// the lookupd registrar. Start with StartAsync; DisposeAsync is the graceful shutdown.
/// </summary>
public sealed class NsqdServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<long, ClientConnection> _clients = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private Socket? _listener;
    private Task? _acceptLoop;
    private NsqdHttpServer? _http;
    private Statsd.StatsdReporter? _statsd;
    private Storage.DataDirectoryLock? _dataLock;

    public NsqdServer(NsqdOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        LoggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("nsqd");
        Broker = new Broker.Broker(options, loggerFactory);
        Auth = new AuthServerClient(options, loggerFactory.CreateLogger("nsqd.auth"));
        Tls = options.TlsEnabled ? new TlsSettings(options) : null;
        Metrics = new NsqdMetrics(this);
    }

    public NsqdOptions Options { get; }

    public ILoggerFactory LoggerFactory { get; }

    public Broker.Broker Broker { get; }

    public AuthServerClient Auth { get; }

    public TlsSettings? Tls { get; }

    public NsqdMetrics Metrics { get; }

    public LookupRegistrar? Lookup { get; private set; }

    /// <summary>Set by the host: applies a log level at run time (PUT /config/log_level); false if invalid.</summary>
    public Func<string, bool>? SetLogLevel { get; set; }

    public DateTimeOffset StartTime { get; } = DateTimeOffset.UtcNow;

    public IPEndPoint TcpEndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public IPEndPoint HttpEndPoint => _http?.HttpEndPoint ?? new IPEndPoint(IPAddress.Loopback, 0);

    public IPEndPoint? HttpsEndPoint => _http?.HttpsEndPoint;

    internal ICollection<ClientConnection> Clients => _clients.Values;

    public int BroadcastTcpPort => Options.BroadcastTcpPort > 0 ? Options.BroadcastTcpPort : TcpEndPoint.Port;

    public int BroadcastHttpPort => Options.BroadcastHttpPort > 0 ? Options.BroadcastHttpPort : HttpEndPoint.Port;

    public async Task StartAsync()
    {
        // Before touching anything in the data path (Broker.Start wipes ephemeral/): one nsqd per data directory.
        _dataLock = Storage.DataDirectoryLock.Acquire(Options.DataPath);
        Broker.Start();
        _listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var endpoint = ParseEndPoint(Options.TcpAddress);
        if (endpoint.AddressFamily == AddressFamily.InterNetwork)
        {
            _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        }

        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endpoint);
        _listener.Listen(1024);
        TcpEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _logger.LogInformation("TCP: listening on {Endpoint}", TcpEndPoint);

        _http = new NsqdHttpServer(this);
        await _http.StartAsync().ConfigureAwait(false);

        if (Options.LookupdTcpAddresses.Count > 0)
        {
            StartLookup(Options.LookupdTcpAddresses);
        }

        if (Options.StatsdAddress.Length > 0)
        {
            _statsd = new Statsd.StatsdReporter(this, LoggerFactory.CreateLogger("nsqd.statsd"));
            _statsd.Start();
        }

        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Connects to (or switches) the lookupd set; used at start and by PUT /config/nsqlookupd_tcp_addresses.</summary>
    public void StartLookup(IEnumerable<string> addresses)
    {
        if (Lookup != null)
        {
            Lookup.SetAddresses(addresses);
            return;
        }

        var identity = new NodeIdentity(Options.BroadcastAddress, BroadcastTcpPort, BroadcastHttpPort, Environment.MachineName,
            ProtocolConstants.CompatibleVersion);
        Lookup = new LookupRegistrar(identity, addresses, Broker.RegistrationSnapshot, LoggerFactory.CreateLogger("nsqd.lookup"));
        Broker.Lookup = Lookup;
        Lookup.Start();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                _logger.LogWarning("TCP: accept failed: {Error}", e.Message);
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            var client = new ClientConnection(this, socket);
            _clients[client.ClientId] = client;
            _ = Task.Run(client.RunAsync);
        }
    }

    internal void RemoveClient(ClientConnection client) => _clients.TryRemove(client.ClientId, out _);

    /// <summary>A TCP/UDP address flag (upstream's host:port rules, see ListenAddress); unix sockets are not supported here.</summary>
    public static IPEndPoint ParseEndPoint(string address) =>
        ListenAddress.Parse(address).EndPoint as IPEndPoint ?? throw new FormatException($"invalid address {address} (want host:port)");

    /// <summary>Graceful shutdown: stop listening, disconnect clients, flush and checkpoint everything.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _logger.LogInformation("exiting");
        _stop.Cancel();
        _listener?.Dispose();
        if (_acceptLoop != null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        if (_http != null)
        {
            await _http.DisposeAsync().ConfigureAwait(false);
        }

        if (_statsd != null)
        {
            await _statsd.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var client in _clients.Values)
        {
            client.Stop();
        }

        for (var i = 0; i < 100 && !_clients.IsEmpty; i++)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        if (Lookup != null)
        {
            await Lookup.DisposeAsync().ConfigureAwait(false);
        }

        if (_dataLock != null)
        {
            // Only the owner of the data path may write it (the broker saves nsqd.json on the way out): a server that
            // failed to take the lock must not clobber the running instance's metadata.
            await Broker.DisposeAsync().ConfigureAwait(false);
            _dataLock.Dispose(); // after every log is closed
        }

        Auth.Dispose();
        Metrics.Dispose();
        _logger.LogInformation("exited cleanly");
    }
}
