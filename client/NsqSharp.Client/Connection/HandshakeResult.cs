namespace NsqSharp.Client.Connection;

/// <summary>What connection setup produced: the stream to use from now on (plain, TLS and/or compressed)
/// and what nsqd negotiated.</summary>
internal sealed record HandshakeResult(Stream Stream, IdentifyResponse Identify, AuthResponse? Auth);

/// <summary>A subscription to make during setup (consumers only).</summary>
internal sealed record SubscribeRequest(string Topic, string Channel);
