using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NsqSharp.Common.Http;

/// <summary>
/// One HTTP reply shaped as upstream's internal/http_api decorators shape it. "V1" replies (RespondV1) carry
/// X-NSQ-Content-Type: nsq; version=1.0: a string as-is (Go sniffs it as text/plain), nil as an empty body
/// without a Content-Type, a struct as JSON, an error as {"message":"TEXT"} with its status. PlainText replies
/// (upstream's /ping) carry the text and no NSQ header, errors included.
/// </summary>
public readonly struct ApiResult
{
    public const string NsqContentTypeHeader = "X-NSQ-Content-Type";
    public const string NsqContentType = "nsq; version=1.0";
    public const string JsonContentType = "application/json; charset=utf-8";
    public const string TextContentType = "text/plain; charset=utf-8";

    // Error texts keep their characters as Go's json.Marshal does (it escapes no non-ASCII text).
    private static readonly JsonWriterOptions ErrorJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private ApiResult(int statusCode, ReadOnlyMemory<byte> body, string? contentType, bool v1)
    {
        StatusCode = statusCode;
        Body = body;
        ContentType = contentType;
        IsV1 = v1;
    }

    public int StatusCode { get; }

    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The Content-Type, or null for none (an empty V1 success).</summary>
    public string? ContentType { get; }

    /// <summary>Whether the reply carries X-NSQ-Content-Type (every reply but PlainText's).</summary>
    public bool IsV1 { get; }

    /// <summary>V1 success with no data: 200, an empty body, no Content-Type.</summary>
    public static ApiResult Empty { get; } = new(200, ReadOnlyMemory<byte>.Empty, null, v1: true);

    /// <summary>V1 string data ("OK" from /pub, the text /stats).</summary>
    public static ApiResult Text(string text, int statusCode = 200) =>
        new(statusCode, Encoding.UTF8.GetBytes(text), TextContentType, v1: true);

    /// <summary>The PlainText decorator: the text with its status and no NSQ header.</summary>
    public static ApiResult PlainText(string text, int statusCode = 200) =>
        new(statusCode, Encoding.UTF8.GetBytes(text), TextContentType, v1: false);

    /// <summary>V1 JSON data written by the callback.</summary>
    public static ApiResult Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            write(json);
        }

        return Json(buffer.WrittenMemory);
    }

    /// <summary>V1 JSON already serialized (UTF-8).</summary>
    public static ApiResult Json(ReadOnlyMemory<byte> utf8Json, int statusCode = 200) =>
        new(statusCode, utf8Json, JsonContentType, v1: true);

    /// <summary>A V1 body of another media type (Prometheus text for /metrics).</summary>
    public static ApiResult Bytes(string contentType, ReadOnlyMemory<byte> body) => new(200, body, contentType, v1: true);

    /// <summary>V1 error: the status and {"message":"TEXT"}; with a detail also "error": what went wrong.</summary>
    public static ApiResult Error(int statusCode, string message, string? detail = null)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer, ErrorJson))
        {
            json.WriteStartObject();
            json.WriteString("message", message);
            if (detail != null)
            {
                json.WriteString("error", detail);
            }

            json.WriteEndObject();
        }

        return Json(buffer.WrittenMemory, statusCode);
    }

    public async Task WriteAsync(HttpResponse response)
    {
        response.StatusCode = StatusCode;
        if (ContentType != null)
        {
            response.ContentType = ContentType;
        }

        if (IsV1)
        {
            response.Headers[NsqContentTypeHeader] = NsqContentType;
        }

        response.ContentLength = Body.Length;
        if (Body.Length > 0)
        {
            await response.Body.WriteAsync(Body).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Thrown inside a handler to answer a V1 error (upstream's http_api.Err): the router writes
/// <see cref="ApiResult.Error"/> with the status, message and optional detail.
/// </summary>
public sealed class ApiException(int statusCode, string message, string? detail = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public string? Detail { get; } = detail;

    public ApiResult Result => ApiResult.Error(StatusCode, Message, Detail);
}
