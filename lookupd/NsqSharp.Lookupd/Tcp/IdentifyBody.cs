using System.Text.Json;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Tcp;

/// <summary>
/// Decodes the IDENTIFY JSON the way Go's encoding/json fills upstream's PeerInfo: keys match
/// case-insensitively, unknown keys are ignored, null leaves a field alone, a value of the wrong
/// type (or a non-integer port) is an error, and the body must be exactly one JSON value.
/// </summary>
internal static class IdentifyBody
{
    public static bool TryApply(ReadOnlySpan<byte> json, PeerInfo peer)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType == JsonTokenType.Null)
            {
                return !reader.Read();
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString() ?? "";
                if (!reader.Read() || !TryApplyField(ref reader, name, peer))
                {
                    return false;
                }
            }

            return reader.TokenType == JsonTokenType.EndObject && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false; // GetString on invalid UTF-8 / escapes
        }
    }

    private static bool TryApplyField(ref Utf8JsonReader reader, string name, PeerInfo peer)
    {
        if (Is(name, "tcp_port"))
        {
            return TryInt(ref reader, v => peer.TcpPort = v);
        }

        if (Is(name, "http_port"))
        {
            return TryInt(ref reader, v => peer.HttpPort = v);
        }

        if (Is(name, "broadcast_address"))
        {
            return TryString(ref reader, v => peer.BroadcastAddress = v);
        }

        if (Is(name, "hostname"))
        {
            return TryString(ref reader, v => peer.Hostname = v);
        }

        if (Is(name, "version"))
        {
            return TryString(ref reader, v => peer.Version = v);
        }

        if (Is(name, "topology_zone"))
        {
            return TryString(ref reader, v => peer.TopologyZone = v);
        }

        if (Is(name, "topology_region"))
        {
            return TryString(ref reader, v => peer.TopologyRegion = v);
        }

        if (Is(name, "remote_address"))
        {
            // Decoded like upstream, then overwritten with the real remote address.
            return TryString(ref reader, v => peer.RemoteAddress = v);
        }

        reader.Skip();
        return true;
    }

    private static bool Is(string name, string field) => string.Equals(name, field, StringComparison.OrdinalIgnoreCase);

    private static bool TryString(ref Utf8JsonReader reader, Action<string> set)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.String:
                set(reader.GetString() ?? "");
                return true;
            default:
                return false;
        }
    }

    private static bool TryInt(ref Utf8JsonReader reader, Action<int> set)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;
            case JsonTokenType.Number when reader.TryGetInt32(out var value):
                set(value);
                return true;
            default:
                return false;
        }
    }
}
