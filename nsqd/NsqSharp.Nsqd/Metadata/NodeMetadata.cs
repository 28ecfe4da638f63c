using System.Collections.Concurrent;
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
    // Files Load could not parse in this process. Save leaves them alone: a start that failed on a corrupt
    // nsqd.json must not replace it, on the way out, with an empty topic list (that would forget every
    // topic at the next start); the operator repairs or removes it.
    private static readonly ConcurrentDictionary<string, bool> Unreadable = new(StringComparer.Ordinal);

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
            var metadata = JsonSerializer.Deserialize(File.ReadAllBytes(path), MetadataJsonContext.Default.NodeMetadata);
            Unreadable.TryRemove(Path.GetFullPath(path), out _);
            return metadata;
        }
        catch (JsonException e)
        {
            Unreadable[Path.GetFullPath(path)] = true;
            // upstream: "failed to parse metadata in <file> - <json error>"
            throw new MetadataException($"failed to parse metadata in {path} - {e.Message}", e);
        }
    }

    /// <summary>Writes the file atomically; skipped for a file this process could not read (see Unreadable).</summary>
    public void Save(string path)
    {
        if (Unreadable.ContainsKey(Path.GetFullPath(path)))
        {
            return;
        }

        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(this, MetadataJsonContext.Default.NodeMetadata));
    }
}

/// <summary>nsqd.json cannot be read as metadata; the host reports it as upstream does ("failed to load metadata - ...").</summary>
public sealed class MetadataException(string message, Exception inner) : IOException(message, inner);

public sealed class TopicMetadata
{
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    [JsonPropertyName("paused")]
    public bool Paused { get; set; }

    [JsonPropertyName("partitions")]
    public int Partitions { get; set; } = 1;

    [JsonPropertyName("channels")]
    public List<ChannelMetadata> Channels { get; set; } = [];

    /// <summary>Per partition, the /topic/empty floor (see Topic.EmptiedBelow); absent when never emptied.</summary>
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
