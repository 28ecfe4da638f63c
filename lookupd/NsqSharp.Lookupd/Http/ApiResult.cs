using System.Buffers;
using System.Text;
using System.Text.Json;

namespace NsqSharp.Lookupd.Http;

/// <summary>How upstream's http_api decorators shape a response.</summary>
internal enum ApiResultKind
{
    /// <summary>V1 success with a JSON body.</summary>
    Json,

    /// <summary>V1 success with no data: 200 and an empty body.</summary>
    Empty,

    /// <summary>V1 error: the status code and {"message":"TEXT"}.</summary>
    Error,

    /// <summary>PlainText decorator (/ping): the text, no NSQ content-type header.</summary>
    PlainText,
}

internal readonly record struct ApiResult(ApiResultKind Kind, int StatusCode, byte[] Body)
{
    public static ApiResult Empty { get; } = new(ApiResultKind.Empty, 200, []);

    public static ApiResult Text(string text) => new(ApiResultKind.PlainText, 200, Encoding.UTF8.GetBytes(text));

    public static ApiResult Error(int statusCode, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("message", message);
            json.WriteEndObject();
        }

        return new ApiResult(ApiResultKind.Error, statusCode, buffer.WrittenSpan.ToArray());
    }

    public static ApiResult Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        return new ApiResult(ApiResultKind.Json, 200, buffer.WrittenSpan.ToArray());
    }
}
