using System.Buffers;
using NsqSharp.Client.Connection;
using NsqSharp.Client.Protocol;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Client.Consuming;

/// <summary>
/// A subscribed connection of a consumer: counts messages in flight, carries FIN/REQ/TOUCH back, holds the
/// RDY state, and closes itself once it is closing and nothing is in flight any more (go-nsq's clean close:
/// CLS, CLOSE_WAIT, drain, close).
/// </summary>
internal sealed class ConsumerConnection : IConnectionEvents, IRdyConnection, IMessageResponder
{
    private readonly IConsumerConnectionOwner _owner;
    private readonly TimeProvider _time;
    private NsqConnection? _connection;
    private long _inFlight;
    private long _lastMessageTimestamp;
    private long _rdyCount;
    private long _lastRdyTimestamp;
    private volatile bool _closing;
    private int _closeStarted;

    public ConsumerConnection(string address, IConsumerConnectionOwner owner, TimeProvider time)
    {
        Address = address;
        _owner = owner;
        _time = time;
        _lastMessageTimestamp = time.GetTimestamp();
    }

    public string Address { get; }

    public NsqConnection Connection => _connection ?? throw new InvalidOperationException("not connected");

    public long MaxRdyCount => _connection?.Identify.MaxRdyCount ?? 2500;

    public long RdyCount
    {
        get => Interlocked.Read(ref _rdyCount);
        set => Interlocked.Exchange(ref _rdyCount, value);
    }

    public long LastRdyTimestamp
    {
        get => Interlocked.Read(ref _lastRdyTimestamp);
        set => Interlocked.Exchange(ref _lastRdyTimestamp, value);
    }

    public long LastMessageTimestamp => Interlocked.Read(ref _lastMessageTimestamp);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public bool IsClosing => _closing || _connection is not { IsOpen: true };

    public void Attach(NsqConnection connection) => _connection = connection;

    public void WriteRdy(long count) => _connection?.SendRdy(count);

    /// <summary>Starts a clean close: CLS now, the socket once CLOSE_WAIT came and in-flight messages are answered.</summary>
    public void BeginClose()
    {
        if (_closing)
        {
            return;
        }

        _closing = true;
        if (_connection?.SendCls() != true)
        {
            _ = CloseNowAsync();
        }
    }

    public ValueTask OnMessageAsync(NsqConnection connection, DecodedMessage decoded)
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Exchange(ref _lastMessageTimestamp, _time.GetTimestamp());
        return _owner.OnMessageAsync(this, new Message(this, decoded));
    }

    public void OnResponse(NsqConnection connection, in ReadOnlySequence<byte> data)
    {
        if (data.Length == ProtocolConstants.CloseWait.Length && data.ToArray().AsSpan().SequenceEqual(ProtocolConstants.CloseWait))
        {
            // nsqd acknowledged CLS: no more messages will come on this connection
            _closing = true;
            Log.CloseWait(_owner.Logger, Address);
            CloseIfDrained();
        }
    }

    public void OnError(NsqConnection connection, NsqServerException error) =>
        Log.ServerError(_owner.Logger, Address, error.ErrorText);

    public void OnClosed(NsqConnection connection, Exception? reason)
    {
        _closing = true;
        _owner.OnConnectionClosed(this, reason);
    }

    public void Finish(Message message)
    {
        _connection?.SendFin(message.Id);
        _owner.OnFinished(this);
        Responded();
    }

    public void Requeue(Message message, TimeSpan? delay, bool backoff)
    {
        var effective = delay ?? _owner.DefaultRequeueDelay(message.Attempts);
        _connection?.SendReq(message.Id, (long)effective.TotalMilliseconds);
        _owner.OnRequeued(this, backoff);
        Responded();
    }

    public void Touch(Message message) => _connection?.SendTouch(message.Id);

    private void Responded()
    {
        Interlocked.Decrement(ref _inFlight);
        CloseIfDrained();
    }

    private void CloseIfDrained()
    {
        if (_closing && Interlocked.Read(ref _inFlight) <= 0)
        {
            _ = CloseNowAsync();
        }
    }

    private async Task CloseNowAsync()
    {
        if (Interlocked.Exchange(ref _closeStarted, 1) != 0 || _connection == null)
        {
            return;
        }

        await _connection.CloseAsync(_owner.WriteTimeout).ConfigureAwait(false);
    }
}

/// <summary>What a <see cref="ConsumerConnection"/> needs from its consumer.</summary>
internal interface IConsumerConnectionOwner
{
    Microsoft.Extensions.Logging.ILogger Logger { get; }

    TimeSpan WriteTimeout { get; }

    TimeSpan DefaultRequeueDelay(int attempts);

    ValueTask OnMessageAsync(ConsumerConnection connection, Message message);

    void OnFinished(ConsumerConnection connection);

    void OnRequeued(ConsumerConnection connection, bool backoff);

    void OnConnectionClosed(ConsumerConnection connection, Exception? reason);
}
