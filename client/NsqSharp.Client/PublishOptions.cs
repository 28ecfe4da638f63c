namespace NsqSharp.Client;

/// <summary>
/// Per-publish options reserved for NsqSharp server extensions (docs/PROTOCOL.md). A default instance
/// publishes exactly like upstream nsqd expects; the extension fields are rejected until the server
/// advertises support for them.
/// </summary>
public readonly record struct PublishOptions
{
    /// <summary>Partition key: messages with the same key go to the same partition and keep their order.
    /// Requires a server with partitions (not yet offered).</summary>
    public string? PartitionKey { get; init; }

    /// <summary>Explicit partition number. Requires a server with partitions (not yet offered).</summary>
    public int? Partition { get; init; }

    internal bool UsesExtensions => PartitionKey != null || Partition != null;
}
