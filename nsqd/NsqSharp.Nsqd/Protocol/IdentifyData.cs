using System.Text.Json.Serialization;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// The IDENTIFY JSON body. Unknown fields (e.g. go-nsq's short_id/long_id) are ignored. Integer fields
/// have the width of upstream's identifyDataV2 (Go int = int64, sample_rate int32), so an out-of-range
/// value such as heartbeat_interval 99999999999 decodes and is answered "... is invalid" as upstream does,
/// while one that does not fit the Go type fails to decode there and here.
/// </summary>
internal sealed class IdentifyData
{
    [JsonPropertyName("client_id")] public string? ClientId { get; set; }
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
    [JsonPropertyName("user_agent")] public string? UserAgent { get; set; }
    [JsonPropertyName("feature_negotiation")] public bool FeatureNegotiation { get; set; }
    [JsonPropertyName("heartbeat_interval")] public long HeartbeatInterval { get; set; }
    [JsonPropertyName("output_buffer_size")] public long OutputBufferSize { get; set; }
    [JsonPropertyName("output_buffer_timeout")] public long OutputBufferTimeout { get; set; }
    [JsonPropertyName("tls_v1")] public bool TlsV1 { get; set; }
    [JsonPropertyName("snappy")] public bool Snappy { get; set; }
    [JsonPropertyName("deflate")] public bool Deflate { get; set; }
    [JsonPropertyName("deflate_level")] public long DeflateLevel { get; set; }
    [JsonPropertyName("sample_rate")] public int SampleRate { get; set; }
    [JsonPropertyName("msg_timeout")] public long MsgTimeout { get; set; }
    [JsonPropertyName("topology_zone")] public string? TopologyZone { get; set; }
    [JsonPropertyName("topology_region")] public string? TopologyRegion { get; set; }
}

/// <summary>The feature-negotiation reply to IDENTIFY (field names and units as upstream).</summary>
internal sealed class IdentifyResponse
{
    [JsonPropertyName("max_rdy_count")] public long MaxRdyCount { get; set; }
    [JsonPropertyName("version")] public string Version { get; set; } = "";
    [JsonPropertyName("max_msg_timeout")] public long MaxMsgTimeout { get; set; }
    [JsonPropertyName("msg_timeout")] public long MsgTimeout { get; set; }
    [JsonPropertyName("tls_v1")] public bool TlsV1 { get; set; }
    [JsonPropertyName("deflate")] public bool Deflate { get; set; }
    [JsonPropertyName("deflate_level")] public long DeflateLevel { get; set; }
    [JsonPropertyName("max_deflate_level")] public int MaxDeflateLevel { get; set; }
    [JsonPropertyName("snappy")] public bool Snappy { get; set; }
    [JsonPropertyName("sample_rate")] public int SampleRate { get; set; }
    [JsonPropertyName("auth_required")] public bool AuthRequired { get; set; }
    [JsonPropertyName("output_buffer_size")] public long OutputBufferSize { get; set; }
    [JsonPropertyName("output_buffer_timeout")] public long OutputBufferTimeout { get; set; }
    [JsonPropertyName("topology_region")] public string TopologyRegion { get; set; } = "";
    [JsonPropertyName("topology_zone")] public string TopologyZone { get; set; } = "";
}

/// <summary>The reply to AUTH.</summary>
internal sealed class AuthResponse
{
    [JsonPropertyName("identity")] public string Identity { get; set; } = "";
    [JsonPropertyName("identity_url")] public string IdentityUrl { get; set; } = "";
    [JsonPropertyName("permission_count")] public int PermissionCount { get; set; }
}

// Go's encoding/json matches field names case-insensitively; so does upstream's IDENTIFY.
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(IdentifyData))]
[JsonSerializable(typeof(IdentifyResponse))]
[JsonSerializable(typeof(AuthResponse))]
internal sealed partial class ProtocolJsonContext : JsonSerializerContext
{
}
