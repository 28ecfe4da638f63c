using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace NsqSharp.Nsqd.Http;

/// <summary>
/// Upstream's "V1" HTTP responses: text bodies as-is, JSON with application/json, errors as
/// {"message":"..."}; every response carries X-NSQ-Content-Type: nsq; version=1.0.
/// </summary>
internal static class HttpReplies
{
    public static Task Text(HttpContext ctx, string body, int status = 200)
    {
        Stamp(ctx, status);
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        return ctx.Response.WriteAsync(body);
    }

    public static Task Empty(HttpContext ctx)
    {
        Stamp(ctx, 200);
        return Task.CompletedTask;
    }

    public static Task Json(HttpContext ctx, byte[] utf8Json, int status = 200)
    {
        Stamp(ctx, status);
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.Body.WriteAsync(utf8Json).AsTask();
    }

    /// <summary>{"message":"CODE"}; with a detail also "error": what went wrong (as upstream's TLS_REQUIRED adds https_port).</summary>
    public static Task Error(HttpContext ctx, int status, string message, string? detail = null)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("message", message);
            if (detail != null)
            {
                writer.WriteString("error", detail);
            }

            writer.WriteEndObject();
        }

        return Json(ctx, stream.ToArray(), status);
    }

    public static Task Bytes(HttpContext ctx, string contentType, string body)
    {
        Stamp(ctx, 200);
        ctx.Response.ContentType = contentType;
        return ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(body)).AsTask();
    }

    private static void Stamp(HttpContext ctx, int status)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers["X-NSQ-Content-Type"] = "nsq; version=1.0";
    }
}

/// <summary>An HTTP error with upstream's status and message (and optionally what went wrong), thrown inside handlers.</summary>
internal sealed class HttpError(int status, string message, string? detail = null) : Exception(message)
{
    public int Status { get; } = status;

    public string? Detail { get; } = detail;
}
