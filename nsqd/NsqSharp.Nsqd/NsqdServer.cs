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
    /// <summary>Refused connections said goodbye to at once (each holds a descriptor); beyond this they are just closed.</summary>
    private const int MaxRefusing = 16;

    private readonly ConcurrentDictionary<long, ClientConnection> _clients = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly ConnectionLimit _connectionLimit;
    private readonly LogRateLimiter _refusals = new(TimeSpan.FromSeconds(10));
    private readonly ConnectionRefuser _refuser = new(MaxRefusing, TimeSpan.FromSeconds(2));
    private Socket? _listener;
    private Task? _acceptLoop;
    private NsqdHttpServer? _http;
    private Statsd.StatsdReporter? _statsd;
    private Storage.DataDirectoryLock? _dataLock;
    private bool _started;

    public NsqdServer(NsqdOptions options, ILoggerFactory loggerFactory)
    {
        Options = options;
        LoggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("nsqd");
        _connectionLimit = new ConnectionLimit(options.MaxConnections);
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

    /// <summary>Cluster mode's agent (set by the host before <see cref="StartAsync"/>); null standalone.</summary>
    public Cluster.IClusterNode? Cluster { get; set; }

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
        if (Cluster != null)
        {
            // Before the broker opens its topics: no restored partition may deliver until the cluster says it leads.
            Broker.Roles = Cluster.Roles;
            Broker.ControlPlane = Cluster.ControlPlane;
        }

        Broker.Start();
        var endpoint = ParseEndPoint(Options.TcpAddress);
        _listener = endpoint.AddressFamily == AddressFamily.InterNetwork
            ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);

        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endpoint);
        _listener.Listen(1024);
        TcpEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _logger.LogInformation("TCP: listening on {Endpoint}", TcpEndPoint);
        WarnIfDescriptorsAreScarce();

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
        if (Cluster != null)
        {
            await Cluster.StartAsync(this, _stop.Token).ConfigureAwait(false);
        }

        _started = true;
    }

    /// <summary>Says so at start when the open-file limit, not --max-connections, will bound the client count.</summary>
    private void WarnIfDescriptorsAreScarce()
    {
        if (DescriptorLimit.SoftLimit == long.MaxValue || !Directory.Exists("/proc/self/fd"))
        {
            return;
        }

        long inUse;
        try
        {
            inUse = Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        var room = Math.Max(0, DescriptorLimit.Threshold - inUse);
        if (Options.MaxConnections == 0 || room < Options.MaxConnections)
        {
            _logger.LogWarning("TCP: open file limit {Limit} ({InUse} in use, {Reserve} kept free) leaves room for about {Room} connections; " +
                "more are refused (raise it with ulimit -n or LimitNOFILE)", DescriptorLimit.SoftLimit, inUse, DescriptorLimit.Reserve, room);
        }
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
        Broker.ControlPlane = Cluster is null ? Lookup : new Cluster.CombinedControlPlane(Cluster.ControlPlane, Lookup);
        Lookup.Start();
    }

    private async Task AcceptLoopAsync()
    {
        var backoff = new AcceptBackoff();
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_stop.Token).ConfigureAwait(false);
                backoff.Succeeded();
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE/ENFILE at the descriptor limit and other transient failures: the pending
                // connection stays in the backlog, so back off instead of spinning (Go's net/http).
                var waited = await backoff.FailedAndWaitAsync(
                    (delay, suppressed) => _logger.LogError("TCP: accept() failure - {Error} ({Code}); retrying in {Delay} ms ({Suppressed} more since the last report)",
                        e.Message, e.SocketErrorCode, (long)delay.TotalMilliseconds, suppressed),
                    _stop.Token).ConfigureAwait(false);
                if (!waited)
                {
                    return;
                }

                continue;
            }

            Accept(socket);
        }
    }

    /// <summary>
    /// Starts serving an accepted socket, or refuses it: when --max-connections are open, or when it took
    /// one of the descriptors kept free for the runtime (see DescriptorLimit).
    /// </summary>
    private void Accept(Socket socket)
    {
        if (DescriptorLimit.IsInReserve(socket, out var descriptor))
        {
            Refuse(socket, $"{descriptor + 1} of {DescriptorLimit.SoftLimit} file descriptors in use");
            return;
        }

        if (!_connectionLimit.TryEnter())
        {
            Refuse(socket, $"{_connectionLimit.Max} connections open");
            return;
        }

        try
        {
            socket.NoDelay = true;
            var client = new ClientConnection(this, socket);
            _clients[client.ClientId] = client;
            _ = Task.Run(client.RunAsync);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // The peer reset the connection before we got to it.
            _connectionLimit.Exit();
            socket.Dispose();
        }
    }

    /// <summary>Answers a refused connection with a fatal E_TOO_MANY_CONNECTIONS frame and closes it.</summary>
    private void Refuse(Socket socket, string reason)
    {
        if (_refusals.ShouldLog(out var suppressed))
        {
            _logger.LogWarning("TCP: refusing client({Client}), {Reason} ({Suppressed} more refused since the last report)",
                socket.RemoteEndPoint?.ToString() ?? "unknown", reason, suppressed);
        }

        var text = ProtocolConstants.Utf8.GetBytes("E_TOO_MANY_CONNECTIONS refusing client, " + reason);
        _refuser.Refuse(socket, FrameWriter.ToArray(FrameType.Error, text), _stop.Token);
    }

    internal void RemoveClient(ClientConnection client)
    {
        if (_clients.TryRemove(client.ClientId, out _))
        {
            _connectionLimit.Exit();
        }
    }

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

        // After a failed start the host has said what went wrong; cleaning up is not "exiting cleanly".
        if (_started)
        {
            _logger.LogInformation("exiting");
        }

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

        if (Cluster != null)
        {
            // Before the broker closes its logs: the replicas stop fetching and leading first.
            await Cluster.DisposeAsync().ConfigureAwait(false);
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
        if (_started)
        {
            _logger.LogInformation("exited cleanly");
        }
    }
}
