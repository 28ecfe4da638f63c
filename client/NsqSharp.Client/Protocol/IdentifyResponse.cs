using System.Text.Json;

namespace NsqSharp.Client;

/// <summary>
/// What nsqd negotiated in its IDENTIFY response (feature negotiation). An nsqd that predates feature
/// negotiation answers plain <c>OK</c>; then every field keeps its default.
/// </summary>
public sealed class IdentifyResponse
{
    /// <summary>Highest RDY count nsqd accepts on this connection (<c>--max-rdy-count</c>, default 2500).</summary>
    public long MaxRdyCount { get; init; } = 2500;

    /// <summary>nsqd's version string, e.g. <c>1.3.0</c>.</summary>
    public string? Version { get; init; }

    /// <summary>Longest msg_timeout nsqd allows.</summary>
    public TimeSpan MaxMsgTimeout { get; init; }

    /// <summary>The msg_timeout in effect for this connection.</summary>
    public TimeSpan MsgTimeout { get; init; }

    /// <summary>TLS was negotiated.</summary>
    public bool TlsV1 { get; init; }

    /// <summary>Deflate was negotiated.</summary>
    public bool Deflate { get; init; }

    /// <summary>Negotiated deflate level.</summary>
    public int DeflateLevel { get; init; }

    /// <summary>nsqd's <c>--max-deflate-level</c>.</summary>
    public int MaxDeflateLevel { get; init; }

    /// <summary>Snappy was negotiated.</summary>
    public bool Snappy { get; init; }

    /// <summary>Sample rate in effect.</summary>
    public int SampleRate { get; init; }

    /// <summary>nsqd requires AUTH before other commands.</summary>
    public bool AuthRequired { get; init; }

    /// <summary>nsqd's output buffer size for this connection.</summary>
    public long OutputBufferSize { get; init; }

    /// <summary>nsqd's output buffer timeout for this connection.</summary>
    public TimeSpan OutputBufferTimeout { get; init; }

    /// <summary>True when nsqd answered with JSON (feature negotiation); false for a bare <c>OK</c>.</summary>
    public bool FeatureNegotiation { get; init; }

    internal static IdentifyResponse Parse(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || data[0] != (byte)'{')
        {
            return new IdentifyResponse();
        }

        try
        {
            using var document = JsonDocument.Parse(data.ToArray());
            var root = document.RootElement;
            return new IdentifyResponse
            {
                FeatureNegotiation = true,
                MaxRdyCount = Long(root, "max_rdy_count") ?? 2500,
                Version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null,
                MaxMsgTimeout = TimeSpan.FromMilliseconds(Long(root, "max_msg_timeout") ?? 0),
                MsgTimeout = TimeSpan.FromMilliseconds(Long(root, "msg_timeout") ?? 0),
                TlsV1 = Bool(root, "tls_v1"),
                Deflate = Bool(root, "deflate"),
                DeflateLevel = (int)(Long(root, "deflate_level") ?? 0),
                MaxDeflateLevel = (int)(Long(root, "max_deflate_level") ?? 0),
                Snappy = Bool(root, "snappy"),
                SampleRate = (int)(Long(root, "sample_rate") ?? 0),
                AuthRequired = Bool(root, "auth_required"),
                OutputBufferSize = Long(root, "output_buffer_size") ?? 0,
                OutputBufferTimeout = TimeSpan.FromMilliseconds(Long(root, "output_buffer_timeout") ?? 0),
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new NsqProtocolException("invalid IDENTIFY response JSON", e);
        }
    }

    private static long? Long(JsonElement root, string name) =>
        root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var value) ? value : null;

    private static bool Bool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.True;
}
