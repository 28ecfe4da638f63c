using System.Buffers;
using System.Text.Json;

namespace NsqSharp.Client.Protocol;

/// <summary>Builds the IDENTIFY JSON body from a config (field names and units of go-nsq's <c>conn.identify</c>).</summary>
internal static class IdentifyRequest
{
    public static byte[] Build(NsqConfig config)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("client_id", config.ClientId);
            json.WriteString("hostname", config.Hostname);
            json.WriteString("user_agent", config.UserAgent);
            json.WriteBoolean("feature_negotiation", true);
            json.WriteBoolean("tls_v1", config.TlsV1);
            json.WriteBoolean("deflate", config.Deflate);
            json.WriteNumber("deflate_level", config.DeflateLevel);
            json.WriteBoolean("snappy", config.Snappy);
            json.WriteNumber("heartbeat_interval", MillisecondsOrDisabled(config.HeartbeatInterval));
            json.WriteNumber("sample_rate", config.SampleRate);
            json.WriteNumber("output_buffer_size", config.OutputBufferSize < 0 ? -1 : config.OutputBufferSize);
            json.WriteNumber("output_buffer_timeout", MillisecondsOrDisabled(config.OutputBufferTimeout));
            json.WriteNumber("msg_timeout", (long)config.MsgTimeout.TotalMilliseconds);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    // nsqd: -1 disables, 0 means "server default", anything else is milliseconds.
    private static long MillisecondsOrDisabled(TimeSpan value) => value < TimeSpan.Zero ? -1 : (long)value.TotalMilliseconds;
}
