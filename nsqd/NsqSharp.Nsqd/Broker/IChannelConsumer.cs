namespace NsqSharp.Nsqd.Broker;

/// <summary>What a channel needs from a subscribed client connection (implemented by the V2 protocol).</summary>
public interface IChannelConsumer
{
    long ClientId { get; }

    /// <summary>Messages this client holds in flight; the channel decrements it on FIN/REQ/timeout.</summary>
    void InFlightReleased(int count);

    /// <summary>The channel was paused, unpaused or refilled: the client's pump should look again.</summary>
    void Wake();

    /// <summary>The channel is being deleted: close the connection.</summary>
    void CloseForChannelDelete();

    /// <summary>This node stopped leading a partition the client consumes (cluster mode): send the error frame and
    /// close, so the client looks the topic up again.</summary>
    void CloseForLeadershipLoss(string error);
}
