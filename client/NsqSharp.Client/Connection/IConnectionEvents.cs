using System.Buffers;
using NsqSharp.Client.Protocol;

namespace NsqSharp.Client.Connection;

/// <summary>What a connection reports to its owner (producer or consumer). Called from the read loop:
/// implementations must be quick; <see cref="OnMessageAsync"/> may apply backpressure.</summary>
internal interface IConnectionEvents
{
    /// <summary>A response frame other than a heartbeat (e.g. <c>OK</c>, <c>CLOSE_WAIT</c>).</summary>
    void OnResponse(NsqConnection connection, in ReadOnlySequence<byte> data);

    /// <summary>An error frame.</summary>
    void OnError(NsqConnection connection, NsqServerException error);

    /// <summary>A message frame (consumers).</summary>
    ValueTask OnMessageAsync(NsqConnection connection, DecodedMessage message);

    /// <summary>The connection is gone; <paramref name="reason"/> is null for a requested close. Raised once.</summary>
    void OnClosed(NsqConnection connection, Exception? reason);
}
