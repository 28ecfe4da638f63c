using System.Text;
using NsqSharp.Client.Consuming;
using NsqSharp.Client.Protocol;

namespace NsqSharp.Client;

/// <summary>
/// A message delivered by nsqd. Respond exactly once: <see cref="Finish"/> (done), <see cref="Requeue(TimeSpan?)"/>
/// (retry later, with backoff), <see cref="RequeueWithoutBackoff"/>; <see cref="Touch"/> extends the server's
/// timeout while working. Handlers respond automatically (FIN on success, REQ on exception) unless
/// <see cref="DisableAutoResponse"/> was called. Responding again is ignored. Thread-safe.
/// </summary>
public sealed class Message
{
    private readonly IMessageResponder _responder;
    private readonly byte[] _body;
    private int _responded;
    private volatile bool _autoResponseDisabled;

    internal Message(IMessageResponder responder, in DecodedMessage decoded)
    {
        _responder = responder;
        _body = decoded.Body;
        Id = decoded.Id;
        TimestampNanoseconds = decoded.TimestampNanoseconds;
        Attempts = decoded.Attempts;
    }

    /// <summary>The id nsqd assigned (stable across redeliveries).</summary>
    public NsqMessageId Id { get; }

    /// <summary>The message body.</summary>
    public ReadOnlyMemory<byte> Body => _body;

    /// <summary>When the message was published, in nanoseconds since the Unix epoch (as on the wire).</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>When the message was published.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);

    /// <summary>How many times nsqd has delivered this message, this delivery included (starts at 1).</summary>
    public int Attempts { get; }

    /// <summary>The nsqd (<c>host:port</c>) that delivered it.</summary>
    public string NsqdAddress => _responder.Address;

    /// <summary>True once the message was finished or requeued.</summary>
    public bool HasResponded => Volatile.Read(ref _responded) != 0;

    /// <summary>True after <see cref="DisableAutoResponse"/>.</summary>
    public bool IsAutoResponseDisabled => _autoResponseDisabled;

    /// <summary>The body decoded as UTF-8.</summary>
    public string GetBodyAsString() => Encoding.UTF8.GetString(_body);

    /// <summary>Stops the consumer from answering FIN/REQ after the handler returns: you respond yourself,
    /// e.g. after asynchronous work completes elsewhere.</summary>
    public void DisableAutoResponse() => _autoResponseDisabled = true;

    /// <summary>Tells nsqd the message is done (FIN).</summary>
    public void Finish()
    {
        if (Interlocked.Exchange(ref _responded, 1) == 0)
        {
            _responder.Finish(this);
        }
    }

    /// <summary>Asks nsqd to redeliver the message after <paramref name="delay"/> (REQ) and signals backoff to the
    /// consumer. Null delay = <c>default_requeue_delay × attempts</c>, capped at <c>max_requeue_delay</c>.</summary>
    public void Requeue(TimeSpan? delay = null) => RequeueCore(delay, backoff: true);

    /// <summary>Like <see cref="Requeue(TimeSpan?)"/> but without triggering consumer backoff.</summary>
    public void RequeueWithoutBackoff(TimeSpan? delay = null) => RequeueCore(delay, backoff: false);

    /// <summary>Resets nsqd's timeout for this message (TOUCH). Ignored after a response.</summary>
    public void Touch()
    {
        if (!HasResponded)
        {
            _responder.Touch(this);
        }
    }

    private void RequeueCore(TimeSpan? delay, bool backoff)
    {
        if (delay is { } d && d < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), "requeue delay must not be negative");
        }

        if (Interlocked.Exchange(ref _responded, 1) == 0)
        {
            _responder.Requeue(this, delay, backoff);
        }
    }
}
