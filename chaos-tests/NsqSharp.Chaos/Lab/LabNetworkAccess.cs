using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NsqSharp.Chaos.Lab;

/// <summary>
/// How this process reaches the lab's addresses. <see cref="Direct"/>: it is already inside the lab (nsq_chaos's child
/// runs in the client namespace) or the cluster is on loopback. <see cref="Via"/>: sockets are created inside a named
/// network namespace (a dedicated thread enters it with setns(2), makes the socket and leaves; a socket stays in the
/// namespace it was made in), so a process in the host namespace (the tests) can connect, listen or send from there.
/// Needs CAP_SYS_ADMIN, which making the lab needed anyway.
/// </summary>
public sealed partial class LabNetworkAccess
{
    private const int CloneNewNet = 0x40000000;
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000;

    private LabNetworkAccess(string? networkNamespace)
    {
        NetworkNamespace = networkNamespace;
    }

    /// <summary>Sockets of this process's own namespace.</summary>
    public static LabNetworkAccess Direct { get; } = new(null);

    /// <summary>The namespace sockets are made in; null for <see cref="Direct"/>.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>Sockets made inside the named namespace (/var/run/netns/NAME).</summary>
    public static LabNetworkAccess Via(string networkNamespace) => new(networkNamespace);

    public override string ToString() => NetworkNamespace is { } ns ? $"via netns {ns}" : "direct";

    /// <summary>A new socket of the namespace.</summary>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        if (NetworkNamespace is not { } ns)
        {
            return new Socket(family, type, protocol);
        }

        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                socket = InNamespace(ns, () => new Socket(family, type, protocol));
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "netns " + ns };
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException($"cannot create a socket in network namespace {ns}", failure);
    }

    /// <summary>A TCP connection from the namespace, bounded by the token.</summary>
    public async Task<Socket> ConnectTcpAsync(string host, int port, CancellationToken ct)
    {
        var address = IPAddress.Parse(host);
        var socket = CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(new IPEndPoint(address, port), ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether a TCP connection to host:port is accepted within the timeout.</summary>
    public async Task<bool> CanConnectAsync(string host, int port, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var socket = await ConnectTcpAsync(host, port, cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A listening TCP socket of the namespace on address:port (port 0: any).</summary>
    public Socket Listen(string address, int port, int backlog = 16)
    {
        var ip = IPAddress.Parse(address);
        var socket = CreateSocket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(backlog);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A UDP socket of the namespace bound to address:port (port 0: any).</summary>
    public Socket BindUdp(string address, int port)
    {
        var ip = IPAddress.Parse(address);
        var socket = CreateSocket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(ip, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An HTTP client whose connections are made from the namespace (no proxy, no pooling across namespaces: each
    /// client connects from its own). The caller disposes it.
    /// </summary>
    public HttpClient CreateHttpClient(TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
            ConnectTimeout = timeout,
        };
        if (NetworkNamespace != null)
        {
            handler.ConnectCallback = async (context, ct) =>
            {
                var socket = await ConnectAsync(context.DnsEndPoint, ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            };
        }

        return new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
    }

    private async Task<Socket> ConnectAsync(DnsEndPoint endpoint, CancellationToken ct)
    {
        if (IPAddress.TryParse(endpoint.Host, out var address))
        {
            return await ConnectTcpAsync(address.ToString(), endpoint.Port, ct).ConfigureAwait(false);
        }

        // A name: resolved here (the host's resolver), connected from the namespace.
        var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, ct).ConfigureAwait(false);
        return await ConnectTcpAsync(addresses[0].ToString(), endpoint.Port, ct).ConfigureAwait(false);
    }

    /// <summary>Runs the action on the current thread inside the namespace, then returns the thread to its own.</summary>
    private static T InNamespace<T>(string ns, Func<T> action)
    {
        var own = Open("/proc/thread-self/ns/net");
        try
        {
            var target = Open(Path.Combine("/var/run/netns", ns));
            try
            {
                if (SetNs(target, CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({ns}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
            }
            finally
            {
                _ = Close(target);
            }

            try
            {
                return action();
            }
            finally
            {
                if (SetNs(own, CloneNewNet) != 0)
                {
                    // The thread is a dedicated one that ends right after; still, never let it run on elsewhere.
                    Environment.FailFast($"cannot return a thread from network namespace {ns}: errno {Marshal.GetLastPInvokeError()}");
                }
            }
        }
        finally
        {
            _ = Close(own);
        }
    }

    private static int Open(string path)
    {
        var fd = OpenNative(path, ORdOnly | OCloExec);
        return fd >= 0 ? fd : throw new InvalidOperationException($"cannot open {path}: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
