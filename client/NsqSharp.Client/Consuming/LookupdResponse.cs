using System.Globalization;
using System.Text.Json;

namespace NsqSharp.Client.Consuming;

/// <summary>Parses nsqlookupd's <c>/lookup</c> answer into nsqd TCP addresses (<c>broadcast_address:tcp_port</c>).
/// Accepts the 1.0 shape and the pre-1.0 <c>{"status_code":..,"data":{..}}</c> wrapper.</summary>
internal static class LookupdResponse
{
    public static IReadOnlyList<string> ParseProducers(ReadOnlySpan<byte> json)
    {
        try
        {
            using var document = JsonDocument.Parse(json.ToArray());
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data) &&
                data.ValueKind == JsonValueKind.Object)
            {
                root = data;
            }

            var result = new List<string>();
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("producers", out var producers) ||
                producers.ValueKind != JsonValueKind.Array)
            {
                return result;
            }

            foreach (var producer in producers.EnumerateArray())
            {
                if (producer.ValueKind == JsonValueKind.Object &&
                    producer.TryGetProperty("broadcast_address", out var host) && host.ValueKind == JsonValueKind.String &&
                    producer.TryGetProperty("tcp_port", out var port) && port.TryGetInt32(out var tcpPort) &&
                    host.GetString() is { Length: > 0 } hostName)
                {
                    result.Add(JoinHostPort(hostName, tcpPort));
                }
            }

            return result;
        }
        catch (JsonException e)
        {
            throw new NsqProtocolException("invalid nsqlookupd /lookup JSON", e);
        }
    }

    /// <summary>Go's <c>net.JoinHostPort</c>: brackets around IPv6 literals.</summary>
    public static string JoinHostPort(string host, int port) =>
        (host.Contains(':') ? "[" + host + "]" : host) + ":" + port.ToString(CultureInfo.InvariantCulture);
}
