namespace NsqSharp.Cluster.Metadata;

/// <summary>The store could not be reached or did not answer in time; the operation may or may not have applied.</summary>
public sealed class MetadataStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The history a watch asked for was compacted away; re-read and watch again from the read's revision.</summary>
public sealed class WatchCompactedException(long compactRevision)
    : Exception($"etcd history compacted up to revision {compactRevision}")
{
    public long CompactRevision { get; } = compactRevision;
}
