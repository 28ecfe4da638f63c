using System.Buffers;
using System.Text.Json;

namespace NsqSharp.Lookupd.Tcp;

/// <summary>
/// The JSON an nsqd gets back from IDENTIFY, describing this lookupd. nsqd uses broadcast_address and
/// http_port to query /channels when it creates a topic. Keys sorted as Go marshals a map.
/// </summary>
public static class IdentifyResponse
{
    public static byte[] Build(string broadcastAddress, string hostname, int httpPort, int tcpPort, string version)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("broadcast_address", broadcastAddress);
            json.WriteString("hostname", hostname);
            json.WriteNumber("http_port", httpPort);
            json.WriteNumber("tcp_port", tcpPort);
            json.WriteString("version", version);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
