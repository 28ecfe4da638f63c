using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Bench.Wire;

/// <summary>
/// One raw TCP V2 connection: magic, IDENTIFY, then whatever the load loop drives. Owns the socket
/// and a <see cref="FrameBuffer"/>; control-plane helpers (expect OK, answer heartbeats) live here,
/// the hot loops use <see cref="Socket"/> and <see cref="Reader"/> directly.
/// </summary>
internal sealed class NsqConnection : IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] NopCommand = CommandWriter.Nop.ToArray();

    private NsqConnection(Socket socket, int readBufferSize)
    {
        Socket = socket;
        Reader = new FrameBuffer(readBufferSize);
    }

    public Socket Socket { get; }

    public FrameBuffer Reader { get; }

    /// <summary>The server's max_rdy_count from feature negotiation (2500 when it did not say).</summary>
    public int MaxRdyCount { get; private set; } = 2500;

    public static async Task<NsqConnection> OpenAsync(IPEndPoint endpoint, IdentifySettings identify, int readBufferSize, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connection = new NsqConnection(socket, readBufferSize);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(ConnectTimeout);
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            await connection.SendAsync(ProtocolConstants.MagicV2.ToArray(), timeout.Token).ConfigureAwait(false);
            await connection.SendAsync(CommandBytes.Identify(identify.ToJson()), timeout.Token).ConfigureAwait(false);
            var response = await connection.ReadResponseAsync(timeout.Token).ConfigureAwait(false);
            connection.ApplyNegotiation(response);
            return connection;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            connection.Dispose();
            throw new BrokerErrorException($"timed out connecting to {endpoint} after {ConnectTimeout.TotalSeconds:0}s");
        }
        catch (SocketException e)
        {
            connection.Dispose();
            throw new BrokerErrorException($"cannot connect to {endpoint}: {e.Message}");
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        while (!data.IsEmpty)
        {
            var sent = await Socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    /// <summary>Sends a command and waits for its OK (SUB, and publishes outside the hot loop).</summary>
    public async ValueTask CommandAsync(ReadOnlyMemory<byte> command, CancellationToken ct = default)
    {
        await SendAsync(command, ct).ConfigureAwait(false);
        var response = await ReadResponseAsync(ct).ConfigureAwait(false);
        if (response != "OK")
        {
            throw new BrokerErrorException($"expected OK, got \"{response}\"");
        }
    }

    /// <summary>
    /// Reads frames until a non-heartbeat response (returned as text); answers heartbeats with NOP,
    /// throws on an error frame. Message frames arriving meanwhile are skipped (only used before RDY).
    /// </summary>
    public async ValueTask<string> ReadResponseAsync(CancellationToken ct = default)
    {
        while (true)
        {
            while (Reader.TryRead(out var type, out var offset, out var length))
            {
                var text = Encoding.UTF8.GetString(Reader.Data(offset, length));
                if (type == FrameType.Error)
                {
                    throw new BrokerErrorException(text);
                }

                if (type != FrameType.Response)
                {
                    continue;
                }

                if (text == "_heartbeat_")
                {
                    await SendAsync(NopCommand, ct).ConfigureAwait(false);
                    continue;
                }

                return text;
            }

            if (!await Reader.FillAsync(Socket, ct).ConfigureAwait(false))
            {
                throw new BrokerErrorException("connection closed by the broker");
            }
        }
    }

    public void Dispose()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // already closed
        }
        catch (ObjectDisposedException)
        {
            // already disposed
        }

        Socket.Dispose();
    }

    private void ApplyNegotiation(string response)
    {
        if (!response.StartsWith('{'))
        {
            return; // an nsqd that ignores feature_negotiation answers plain OK
        }

        using var doc = JsonDocument.Parse(response);
        if (doc.RootElement.TryGetProperty("max_rdy_count", out var max) && max.TryGetInt32(out var value) && value > 0)
        {
            MaxRdyCount = value;
        }
    }
}
