using System.Globalization;
using System.Text.Json;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>What a lookupd says about itself in its IDENTIFY response.</summary>
internal sealed record LookupdInfo(string BroadcastAddress, string Hostname, int TcpPort, int HttpPort, string Version)
{
    /// <summary>"host:port" of its HTTP API, IPv6 literals bracketed; null if it did not say.</summary>
    public string? HttpAddress => BroadcastAddress.Length == 0 || HttpPort <= 0
        ? null
        : (BroadcastAddress.Contains(':', StringComparison.Ordinal) ? "[" + BroadcastAddress + "]" : BroadcastAddress) +
          ":" + HttpPort.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(ReadOnlySpan<byte> json, out LookupdInfo info)
    {
        info = new LookupdInfo("", "", 0, 0, "");
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            info = new LookupdInfo(
                String(root, "broadcast_address"),
                String(root, "hostname"),
                Int(root, "tcp_port"),
                Int(root, "http_port"),
                String(root, "version"));
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";

    private static int Int(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : 0;
}
