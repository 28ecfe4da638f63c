using System.Text.Json;

namespace NsqSharp.Bench.Wire;

/// <summary>What a bench connection negotiates in IDENTIFY; 0 keeps the server default.</summary>
internal sealed record IdentifySettings(string ClientId, int OutputBufferSize = 0, int OutputBufferTimeoutMs = 0)
{
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("client_id", ClientId);
            json.WriteString("hostname", Environment.MachineName);
            json.WriteString("user_agent", "nsq_bench/" + NsqSharp.Common.Protocol.ProtocolConstants.ProductVersion);
            json.WriteBoolean("feature_negotiation", true);
            if (OutputBufferSize != 0)
            {
                json.WriteNumber("output_buffer_size", OutputBufferSize);
            }

            if (OutputBufferTimeoutMs != 0)
            {
                json.WriteNumber("output_buffer_timeout", OutputBufferTimeoutMs);
            }

            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
