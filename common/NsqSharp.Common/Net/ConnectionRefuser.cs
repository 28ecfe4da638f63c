using System.Net.Sockets;

namespace NsqSharp.Common.Net;

/// <summary>
/// Says goodbye to refused connections without blocking the accept loop: writes a last message (an
/// error frame, an HTTP 503), half-closes, and reads and drops what the client sent until it closes or
/// the linger time passes, so the close is a FIN, not a reset that could destroy the message before the
/// client reads it. At most MaxConcurrent goodbyes run at once (each holds a descriptor); beyond that a
/// refused socket is closed at once.
/// </summary>
public sealed class ConnectionRefuser(int maxConcurrent, TimeSpan linger)
{
    private int _running;

    public int MaxConcurrent { get; } = maxConcurrent;

    public TimeSpan Linger { get; } = linger;

    /// <summary>Starts the goodbye and returns at once; the socket is always disposed.</summary>
    public void Refuse(Socket socket, ReadOnlyMemory<byte> goodbye, CancellationToken stopping)
    {
        if (Interlocked.Increment(ref _running) > MaxConcurrent)
        {
            Interlocked.Decrement(ref _running);
            socket.Dispose();
            return;
        }

        _ = SayGoodbyeAsync(socket, goodbye, stopping);
    }

    private async Task SayGoodbyeAsync(Socket socket, ReadOnlyMemory<byte> goodbye, CancellationToken stopping)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(Linger);
            await socket.SendAsync(goodbye, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
            var drain = new byte[256];
            while (await socket.ReceiveAsync(drain, SocketFlags.None, timeout.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
            Interlocked.Decrement(ref _running);
        }
    }
}
