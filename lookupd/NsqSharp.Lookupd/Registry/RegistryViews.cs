namespace NsqSharp.Lookupd.Registry;

/// <summary>An identified nsqd with the topics it produces (/nodes).</summary>
public sealed record NodeView(PeerInfo Peer, IReadOnlyList<string> Topics, IReadOnlyList<bool> Tombstones);

/// <summary>One producer of one registration (/debug).</summary>
public sealed record DebugEntry(Registration Key, PeerInfo Peer, bool Tombstoned, long? TombstonedAtUnixNanos);

/// <summary>What UNREGISTER of a whole topic removed, so the protocol can log like upstream.</summary>
public sealed record TopicUnregistration(bool TopicRemoved, IReadOnlyList<string> UnexpectedChannels);
