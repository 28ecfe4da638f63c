using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>
/// One TCP connection to an nsqlookupd speaking V1 as upstream nsqd does (nsqd/lookup_peer.go):
/// "  V1" magic, then strictly one command and one [int32 size][data] response at a time, each
/// bounded by a timeout and the response by a size limit.
/// </summary>
internal sealed class LookupConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly LookupRegistrarOptions _options;
    private readonly byte[] _header = new byte[4];

    /// <summary>
    /// The next response's size header, read ahead while idle: a lookupd never speaks unasked, so
    /// its completing early means the connection closed, and we can re-register at once instead of
    /// at the next PING (upstream only notices then).
    /// </summary>
    private Task<int>? _headerReadAhead;

    private LookupConnection(Socket socket, LookupRegistrarOptions options)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _options = options;
    }

    public static async Task<LookupConnection> ConnectAsync(string address, LookupRegistrarOptions options, CancellationToken ct)
    {
        if (!LookupAddress.TryParse(address, out var host, out var port))
        {
            throw new FormatException($"invalid nsqlookupd address '{address}'");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var dial = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                dial.CancelAfter(options.DialTimeout);
                await socket.ConnectAsync(host, port, dial.Token).ConfigureAwait(false);
            }

            var connection = new LookupConnection(socket, options);
            await connection.WriteAsync(ProtocolConstants.MagicV1.ToArray(), ct).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends IDENTIFY with our identity and returns what the lookupd says about itself.</summary>
    public async Task<LookupdInfo> IdentifyAsync(NodeIdentity self, CancellationToken ct)
    {
        var response = await RoundTripAsync(BuildIdentify(self), ct).ConfigureAwait(false);
        ThrowIfError(response, "IDENTIFY");
        if (!LookupdInfo.TryParse(response, out var info))
        {
            throw new LookupProtocolException("IDENTIFY: cannot parse response " + Printable(response));
        }

        return info;
    }

    /// <summary>Runs a command; an E_* answer (after which the lookupd closes) is an exception.</summary>
    public async Task CommandAsync(LookupCommand command, CancellationToken ct)
    {
        var response = await RoundTripAsync(command.ToBytes(), ct).ConfigureAwait(false);
        ThrowIfError(response, command.ToString());
    }

    private async Task<byte[]> RoundTripAsync(byte[] request, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ResponseTimeout);
        try
        {
            await WriteAsync(request, timeout.Token).ConfigureAwait(false);
            var have = 0;
            if (_headerReadAhead is { } ahead)
            {
                _headerReadAhead = null;
                have = await ahead.WaitAsync(timeout.Token).ConfigureAwait(false);
                if (have == 0)
                {
                    throw new EndOfStreamException("lookupd closed the connection");
                }
            }

            if (have < _header.Length)
            {
                await _stream.ReadExactlyAsync(_header.AsMemory(have), timeout.Token).ConfigureAwait(false);
            }

            var size = BinaryPrimitives.ReadInt32BigEndian(_header);
            if (size < 0 || size > _options.MaxResponseSize)
            {
                throw new LookupProtocolException($"response body size ({size}) is greater than limit ({_options.MaxResponseSize})");
            }

            var body = new byte[size];
            await _stream.ReadExactlyAsync(body, timeout.Token).ConfigureAwait(false);
            StartHeaderReadAhead(ct);
            return body;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no response within {_options.ResponseTimeout}");
        }
    }

    /// <summary>Completes when the idle connection ends (or the lookupd sends something unasked).</summary>
    public Task IdleEnded => _headerReadAhead ?? Task.Delay(Timeout.Infinite);

    private void StartHeaderReadAhead(CancellationToken ct)
    {
        var read = _stream.ReadAsync(_header, ct).AsTask();
        _ = read.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        _headerReadAhead = read;
    }

    private ValueTask WriteAsync(byte[] data, CancellationToken ct) => _stream.WriteAsync(data, ct);

    /// <summary>"IDENTIFY\n[int32 size][json]"; keys in the order Go marshals upstream's map.</summary>
    internal static byte[] BuildIdentify(NodeIdentity self)
    {
        using var body = new MemoryStream();
        using (var json = new Utf8JsonWriter(body))
        {
            json.WriteStartObject();
            json.WriteString("broadcast_address", self.BroadcastAddress);
            json.WriteString("hostname", self.Hostname);
            json.WriteNumber("http_port", self.HttpPort);
            json.WriteNumber("tcp_port", self.TcpPort);
            json.WriteString("topology_region", self.TopologyRegion);
            json.WriteString("topology_zone", self.TopologyZone);
            json.WriteString("version", self.Version);
            json.WriteEndObject();
        }

        var prefix = "IDENTIFY\n"u8;
        var frame = new byte[prefix.Length + 4 + body.Length];
        prefix.CopyTo(frame);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(prefix.Length), (int)body.Length);
        body.GetBuffer().AsSpan(0, (int)body.Length).CopyTo(frame.AsSpan(prefix.Length + 4));
        return frame;
    }

    private static void ThrowIfError(byte[] response, string what)
    {
        if (response.AsSpan().StartsWith("E_"u8))
        {
            throw new LookupProtocolException(what + ": lookupd returned " + Printable(response));
        }
    }

    private static string Printable(byte[] data) => Encoding.UTF8.GetString(data, 0, Math.Min(data.Length, 256));

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The lookupd answered with an error or something unreadable.</summary>
public sealed class LookupProtocolException(string message) : Exception(message);
