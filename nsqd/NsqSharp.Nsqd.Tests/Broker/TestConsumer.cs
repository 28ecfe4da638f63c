using System.Collections.Concurrent;
using NsqSharp.Nsqd.Broker;

namespace NsqSharp.Nsqd.Tests.Broker;

/// <summary>The one fake subscriber of the in-process broker tests: records what the channel tells a client.</summary>
internal sealed class TestConsumer(long clientId = 1) : IChannelConsumer
{
    private int _released;

    public long ClientId => clientId;

    /// <summary>Set by the channel when a message is queued after a take found nothing.</summary>
    public AsyncSignal Woken { get; } = new();

    /// <summary>In-flight slots the channel gave back (timeouts, requeues of this client's messages).</summary>
    public int Released => Volatile.Read(ref _released);

    /// <summary>The errors this client was dropped with because its partition stopped leading.</summary>
    public ConcurrentQueue<string> Closed { get; } = new();

    public bool ChannelDeleted { get; private set; }

    public void InFlightReleased(int count) => Interlocked.Add(ref _released, count);

    public void Wake() => Woken.Set();

    public void CloseForChannelDelete() => ChannelDeleted = true;

    public void CloseForLeadershipLoss(string error) => Closed.Enqueue(error);
}
