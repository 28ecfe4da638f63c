using System.Text.Json;
using System.Text.Json.Serialization;

namespace NsqSharp.Chaos.Lab;

/// <summary>How the run's network is made: namespaces, or loopback only (kill and pause faults only).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LabMode>))]
public enum LabMode
{
    /// <summary>Each member in a network namespace of its own on a private bridge: every fault is available.</summary>
    Namespaces,

    /// <summary>No namespaces could be made (not root, no ip): 127.0.0.1 and free ports; kill and pause faults only.</summary>
    Loopback,
}

/// <summary>One member of the lab: its namespace and address on the lab's bridge.</summary>
public sealed record LabMember
{
    /// <summary>The member's name in the run ("n1", "l1", "etcd", "client").</summary>
    public required string Name { get; init; }

    /// <summary>Its network namespace (/var/run/netns/NAME): the lab's prefix and the name.</summary>
    public required string Namespace { get; init; }

    /// <summary>Its address on the lab's /24 (eth0 in its namespace).</summary>
    public required string Address { get; init; }

    /// <summary>The other end of its veth pair: a port of the bridge in the switch namespace.</summary>
    public required string SwitchPort { get; init; }
}

/// <summary>
/// What the parent (host namespace) made and the child (inside the client namespace) needs: written as JSON by
/// <see cref="LabSession"/>, passed to the child as --in-lab=PATH and read back with <see cref="Load"/>.
/// </summary>
public sealed record LabDescription
{
    public const string ClientName = "client";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public LabMode Mode { get; init; }

    /// <summary>Why the lab is loopback only (null with namespaces).</summary>
    public string? LoopbackReason { get; init; }

    /// <summary>What every namespace of the lab is named with (the stale-state sweep removes exactly those).</summary>
    public required string Prefix { get; init; }

    /// <summary>The lab's private network, e.g. 10.213.7.0/24 (only inside the lab's namespaces).</summary>
    public string Subnet { get; init; } = "";

    /// <summary>The namespace holding the bridge (empty in loopback mode).</summary>
    public string SwitchNamespace { get; init; } = "";

    public IReadOnlyList<LabMember> Members { get; init; } = [];

    /// <summary>Whether tc's netem qdisc exists in this kernel (fixed delays); tbf and iptables are used regardless.</summary>
    public bool NetemAvailable { get; init; }

    /// <summary>What the netem probe answered when it is not available.</summary>
    public string? NetemReason { get; init; }

    /// <summary>The run's output directory (data, logs, the lab's command log).</summary>
    public string OutDir { get; init; } = "";

    /// <summary>The file the lab's commands are appended to, or null.</summary>
    public string? CommandLog { get; init; }

    /// <summary>A loopback-only description (no namespaces, nothing to tear down).</summary>
    public static LabDescription LoopbackOnly(string prefix, string reason, string outDir) =>
        new() { Mode = LabMode.Loopback, LoopbackReason = reason, Prefix = prefix, OutDir = outDir };

    /// <summary>The member by name; throws for an unknown one.</summary>
    public LabMember Member(string name) =>
        Members.FirstOrDefault(m => m.Name == name) ?? throw new KeyNotFoundException($"no lab member '{name}' (members: {string.Join(", ", Members.Select(m => m.Name))})");

    /// <summary>Whether the lab has the member.</summary>
    public bool Has(string name) => Members.Any(m => m.Name == name);

    /// <summary>The namespace the workload runs in (the client member's).</summary>
    [JsonIgnore]
    public string ClientNamespace => Member(ClientName).Namespace;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static LabDescription FromJson(string json) =>
        JsonSerializer.Deserialize<LabDescription>(json, Json) ?? throw new InvalidDataException("empty lab description");

    public void Save(string path) => File.WriteAllText(path, ToJson());

    /// <summary>Reads the description the parent wrote (the child's --in-lab=PATH).</summary>
    public static LabDescription Load(string path) => FromJson(File.ReadAllText(path));
}
