using NsqSharp.Client.Connection;
using NsqSharp.Client.Publishing;

namespace NsqSharp.Client;

/// <summary>
/// The send path. Commands go on the wire in the order the publish methods were called: straight into the
/// connection when it is open and nothing is waiting (no allocation, no async machinery), otherwise into an
/// ordered backlog that one drainer task sends after (re)connecting or once the outbound buffer has room.
/// </summary>
public sealed partial class Producer
{
    private readonly object _sendGate = new();
    private readonly Queue<BacklogItem> _backlog = new();
    private Task _drainer = Task.CompletedTask;
    private bool _draining;

    private ValueTask SendAsync<TState>(TState state, long size, CommandEncoder<TState> encode, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var pending = PendingResponse.Rent();
        lock (_sendGate)
        {
            if (_stopped)
            {
                pending.ReturnUnused();
                throw new ObjectDisposedException(nameof(Producer));
            }

            var sent = false;
            if (_backlog.Count == 0 && _session is { IsOpen: true } session)
            {
                try
                {
                    sent = session.TryEnqueue(state, size, encode, pending);
                }
                catch (NsqConnectionException)
                {
                    // closed before anything was written: the backlog reconnects and sends it
                }
            }

            if (!sent)
            {
                _backlog.Enqueue(BacklogItem.Create(state, size, encode, pending));
                if (!_draining)
                {
                    _draining = true;
                    _drainer = Task.Run(DrainBacklogAsync);
                }
            }
        }

        return pending.AsValueTask(cancellationToken);
    }

    private async Task DrainBacklogAsync()
    {
        while (true)
        {
            BacklogItem item;
            lock (_sendGate)
            {
                if (!_backlog.TryPeek(out item!))
                {
                    _draining = false;
                    return;
                }

                if (item.Pending.IsCompleted)
                {
                    // the caller cancelled while waiting: never sent
                    _backlog.Dequeue();
                    item.Pending.Complete(null);
                    continue;
                }
            }

            ProducerSession session;
            try
            {
                session = await EnsureConnectedAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                FailBacklog(e); // as go-nsq: the connect error is every waiting publish's error
                return;
            }

            bool written;
            try
            {
                lock (_sendGate)
                {
                    written = item.TryEnqueue(session, item.Pending);
                    if (written)
                    {
                        _backlog.Dequeue();
                    }
                }
            }
            catch (NsqConnectionException e)
            {
                if (!item.Retried)
                {
                    item.Retried = true; // nothing was written, so one more try on a fresh connection cannot duplicate
                    continue;
                }

                lock (_sendGate)
                {
                    _backlog.Dequeue();
                }

                item.Pending.Complete(e);
                continue;
            }
            catch (Exception e)
            {
                // e.g. an encoder failure: this publish fails, the ones behind it still go
                lock (_sendGate)
                {
                    _backlog.Dequeue();
                }

                item.Pending.Complete(e);
                continue;
            }

            if (!written)
            {
                try
                {
                    await session.Connection.WaitForSpaceAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (NsqConnectionException)
                {
                    // the next TryEnqueue sees the closed connection and retries once
                }
            }
        }
    }

    private void FailBacklog(Exception error)
    {
        BacklogItem[] items;
        lock (_sendGate)
        {
            items = [.. _backlog];
            _backlog.Clear();
            _draining = false;
        }

        foreach (var item in items)
        {
            item.Pending.Complete(error);
        }
    }

    private async ValueTask<ProducerSession> EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (_session is { IsOpen: true } current)
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session is { IsOpen: true } raced)
            {
                return raced;
            }

            var session = new ProducerSession(_logger);
            var connection = await NsqConnection.ConnectAsync(Address, _config, session, _logger, null, cancellationToken)
                .ConfigureAwait(false);
            session.Attach(connection);
            Log.Connected(_logger, Address, connection.Identify.Version, connection.Identify.MaxRdyCount);
            _session = session;
            return session;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>A publish waiting for a connection or for room in the outbound buffer.</summary>
    private sealed class BacklogItem(Func<ProducerSession, PendingResponse, bool> tryEnqueue, PendingResponse pending)
    {
        // A separate method so the closure is only allocated here: capturing SendAsync's parameters directly
        // would make the compiler allocate it on every call, fast path included.
        public static BacklogItem Create<TState>(TState state, long size, CommandEncoder<TState> encode, PendingResponse pending) =>
            new((session, response) => session.TryEnqueue(state, size, encode, response), pending);

        public PendingResponse Pending { get; } = pending;

        public bool Retried { get; set; }

        public bool TryEnqueue(ProducerSession session, PendingResponse response) => tryEnqueue(session, response);
    }
}
