using System.Text.Json;
using NsqSharp.Lookupd.Registry;

namespace NsqSharp.Lookupd.Http;

/// <summary>JSON pieces of upstream's replies that the standalone and the cluster API both write.</summary>
internal static class LookupJson
{
    /// <summary>Upstream PeerInfo's JSON fields, in struct order.</summary>
    public static void WritePeerFields(Utf8JsonWriter json, PeerInfo peer)
    {
        json.WriteString("remote_address", peer.RemoteAddress);
        json.WriteString("hostname", peer.Hostname);
        json.WriteString("broadcast_address", peer.BroadcastAddress);
        json.WriteNumber("tcp_port", peer.TcpPort);
        json.WriteNumber("http_port", peer.HttpPort);
        json.WriteString("version", peer.Version);
        json.WriteString("topology_zone", peer.TopologyZone);
        json.WriteString("topology_region", peer.TopologyRegion);
    }

    public static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
