using System.Text;

namespace NsqSharp.Cluster.Metadata;

/// <summary>A key as the store holds it, with the revisions that fence changes to it.</summary>
/// <param name="Key">The key.</param>
/// <param name="Value">Its value (JSON for cluster state).</param>
/// <param name="ModRevision">Store revision of the key's last change: the value a compare-and-swap checks.</param>
/// <param name="CreateRevision">Store revision that created the key (0 for "absent" in conditions).</param>
/// <param name="Version">Changes since creation (1 after the create).</param>
/// <param name="LeaseId">Lease the key is attached to, 0 for none.</param>
public sealed record StoredValue(string Key, ReadOnlyMemory<byte> Value, long ModRevision, long CreateRevision, long Version, long LeaseId)
{
    public string ValueText => Encoding.UTF8.GetString(Value.Span);
}

/// <summary>The keys a read found and the store revision it read at (watch from there to miss nothing).</summary>
public sealed record ReadResult(IReadOnlyList<StoredValue> Values, long Revision)
{
    public StoredValue? Single => Values.Count > 0 ? Values[0] : null;
}
