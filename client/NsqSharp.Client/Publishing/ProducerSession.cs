using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;
using NsqSharp.Client.Connection;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Publishing;

/// <summary>
/// One producer connection plus its FIFO of commands awaiting a response. nsqd answers commands strictly in
/// order, so the n-th response (or error) belongs to the n-th outstanding command.
/// </summary>
internal sealed class ProducerSession : IConnectionEvents
{
    private readonly object _gate = new();
    private readonly Queue<PendingResponse> _pending = new();
    private readonly ILogger _logger;
    private TaskCompletionSource? _drained;
    private bool _closed;
    private NsqConnection? _connection;

    public ProducerSession(ILogger logger)
    {
        _logger = logger;
    }

    public NsqConnection Connection => _connection ?? throw new InvalidOperationException("not connected");

    public bool IsOpen => _connection is { IsOpen: true } && !Volatile.Read(ref _closed);

    public void Attach(NsqConnection connection) => _connection = connection;

    /// <summary>Writes a command and queues its response slot atomically. False when the outbound buffer is full.</summary>
    /// <exception cref="NsqConnectionException">The connection is closed: nothing was sent.</exception>
    public bool TryEnqueue<TState>(TState state, long size, CommandEncoder<TState> encode, PendingResponse pending)
    {
        lock (_gate)
        {
            if (_closed)
            {
                throw new NsqConnectionException("connection closed");
            }

            if (!Connection.TryWrite(state, size, encode))
            {
                return false;
            }

            _pending.Enqueue(pending);
            return true;
        }
    }

    /// <summary>Completes when every outstanding command has its answer (or the connection died).</summary>
    public Task WhenDrainedAsync()
    {
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }

    public void OnResponse(NsqConnection connection, in ReadOnlySequence<byte> data)
    {
        if (data.Length == ProtocolConstants.Ok.Length && data.FirstSpan.SequenceEqual(ProtocolConstants.Ok))
        {
            Dequeue(connection, null);
            return;
        }

        connection.Abort(new NsqProtocolException($"unexpected response '{Encoding.UTF8.GetString(data)}' from nsqd {connection.Address}"));
    }

    public void OnError(NsqConnection connection, NsqServerException error)
    {
        Log.PublishError(_logger, connection.Address, error.ErrorText);
        if (error.IsFatal)
        {
            // nsqd closes the connection after a fatal error: stop using it before the caller sees the error,
            // so the next publish dials a fresh connection instead of writing into a dying one
            lock (_gate)
            {
                _closed = true;
            }
        }

        Dequeue(connection, error);
        if (error.IsFatal)
        {
            connection.Abort(error);
        }
    }

    public ValueTask OnMessageAsync(NsqConnection connection, DecodedMessage message)
    {
        connection.Abort(new NsqProtocolException($"nsqd {connection.Address} sent a message to a producer connection"));
        return ValueTask.CompletedTask;
    }

    public void OnClosed(NsqConnection connection, Exception? reason)
    {
        PendingResponse[] orphans;
        TaskCompletionSource? drained;
        lock (_gate)
        {
            _closed = true;
            orphans = [.. _pending];
            _pending.Clear();
            drained = _drained;
        }

        if (orphans.Length > 0)
        {
            var error = new NsqConnectionException(
                $"connection to nsqd {connection.Address} closed before it answered ({orphans.Length} outstanding)", reason);
            foreach (var pending in orphans)
            {
                pending.Complete(error);
            }
        }

        drained?.TrySetResult();
        if (reason != null)
        {
            Log.ConnectionLost(_logger, connection.Address, reason);
        }
    }

    private void Dequeue(NsqConnection connection, Exception? error)
    {
        PendingResponse? head;
        TaskCompletionSource? drained = null;
        lock (_gate)
        {
            _pending.TryDequeue(out head);
            if (_pending.Count == 0)
            {
                drained = _drained;
                _drained = null;
            }
        }

        if (head == null)
        {
            if (error is not NsqServerException { IsFatal: true })
            {
                connection.Abort(new NsqProtocolException($"nsqd {connection.Address} answered a command that was not sent"));
            }

            return;
        }

        head.Complete(error);
        drained?.TrySetResult();
    }
}
