namespace NsqSharp.Cluster.Metadata;

public enum WatchEventKind
{
    Put,
    Delete,
}

/// <summary>
/// One change: a put (with the new value) or a delete (value empty) at <see cref="Revision"/> (the key's mod
/// revision); for a put, <see cref="CreateRevision"/> tells a re-created key from an updated one.
/// </summary>
public sealed record WatchEvent(WatchEventKind Kind, string Key, ReadOnlyMemory<byte> Value, long Revision, long CreateRevision = 0);

/// <summary>
/// Changes the store reported together, and the store revision they bring the watcher to. A batch with no events is
/// a progress notification: nothing changed under the prefix up to <see cref="Revision"/>.
/// </summary>
public sealed record WatchBatch(IReadOnlyList<WatchEvent> Events, long Revision);
