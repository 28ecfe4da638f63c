namespace NsqSharp.Nsqd.Protocol;

/// <summary>Client states; the integers appear in /stats "state" as upstream's.</summary>
internal enum ClientState
{
    Init = 0,
    Disconnected = 1,
    Connected = 2,
    Subscribed = 3,
    Closing = 4,
}
