using System.Text.Json;
using System.Text.Json.Serialization;
using NsqSharp.Nsqd.Storage;

namespace NsqSharp.Nsqd.Metadata;

/// <summary>
/// The durable list of topics and channels with their paused flags (upstream's nsqd.dat), written
/// atomically on every change. Ephemeral topics and channels are never written.
/// </summary>
public sealed class NodeMetadata
{
    [JsonPropertyName("version")]
    public string Version { get; set; } = "";

    [JsonPropertyName("topics")]
    public List<TopicMetadata> Topics { get; set; } = [];

    /// <summary>The metadata file, or null when there is none (a fresh start). A file that is not valid
    /// metadata throws <see cref="MetadataException"/>: nsqd must not start and forget its topics.</summary>
    public static NodeMetadata? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), MetadataJsonContext.Default.NodeMetadata);
        }
        catch (JsonException e)
        {
            // upstream: "failed to parse metadata in <file> - <json error>"
            throw new MetadataException($"failed to parse metadata in {path} - {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes the file atomically. Only a broker that loaded it writes it (MetadataWriter never writes before it
    /// started): a start that failed on a corrupt nsqd.json must not replace it with an empty topic list.
    /// </summary>
    public void Save(string path) =>
        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, MetadataJsonContext.Default.NodeMetadata));
}

/// <summary>nsqd.json cannot be read as metadata; the host reports it as upstream does ("failed to load metadata - ...").</summary>
public sealed class MetadataException(string message, Exception inner) : IOException(message, inner);

public sealed class TopicMetadata
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("paused")]
    public bool Paused { get; set; }

    /// <summary>Partition count; the partitions are 0..N-1 unless <see cref="PartitionIds"/> says otherwise.</summary>
    [JsonPropertyName("partitions")]
    public int Partitions { get; set; } = 1;

    /// <summary>The partition ids this node holds when they are not 0..N-1 (a cluster node may hold 2 and 5 only).</summary>
    [JsonPropertyName("partition_ids")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? PartitionIds { get; set; }

    [JsonPropertyName("channels")]
    public List<ChannelMetadata> Channels { get; set; } = [];

    /// <summary>Per partition (in partition id order), the /topic/empty floor (see Topic.EmptiedBelow); absent when never emptied.</summary>
    [JsonPropertyName("emptied_below")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long[]? EmptiedBelow { get; set; }
}

public sealed class ChannelMetadata
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("paused")]
    public bool Paused { get; set; }
}

[JsonSerializable(typeof(NodeMetadata))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class MetadataJsonContext : JsonSerializerContext
{
}
