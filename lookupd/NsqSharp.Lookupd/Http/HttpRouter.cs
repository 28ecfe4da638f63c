using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;
using NsqSharp.Common.Net;

namespace NsqSharp.Lookupd.Http;

internal delegate ValueTask<ApiResult> ApiHandler(HttpRequest request);

/// <summary>
/// Exact method+path routing with the edges of upstream's httprouter setup: 404 NOT_FOUND and
/// 405 METHOD_NOT_ALLOWED (with Allow) as V1 JSON, automatic OPTIONS, redirects for a trailing
/// slash or a differently-cased / uncleaned path, and 500 INTERNAL_ERROR instead of a crash.
/// </summary>
internal sealed class HttpRouter(ILogger logger)
{
    private const string NsqContentTypeHeader = "X-NSQ-Content-Type";
    private const string NsqContentType = "nsq; version=1.0";
    private readonly Dictionary<string, Dictionary<string, ApiHandler>> _routes = new(StringComparer.Ordinal);

    public void Handle(string method, string path, ApiHandler handler)
    {
        if (!_routes.TryGetValue(path, out var methods))
        {
            methods = new Dictionary<string, ApiHandler>(StringComparer.Ordinal);
            _routes.Add(path, methods);
        }

        methods[method] = handler;
    }

    public async Task DispatchAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        var path = request.Path.HasValue ? request.Path.Value! : "/";
        ApiResult result;
        if (_routes.TryGetValue(path, out var methods) && methods.TryGetValue(request.Method, out var handler))
        {
            result = await InvokeAsync(handler, request).ConfigureAwait(false);
        }
        else if (TryRedirectTarget(path, request.Method) is { } target)
        {
            Redirect(context, target);
            return;
        }
        else if (methods != null)
        {
            context.Response.Headers.Allow = AllowHeader(methods);
            if (HttpMethods.IsOptions(request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                return;
            }

            result = ApiResult.Error(StatusCodes.Status405MethodNotAllowed, "METHOD_NOT_ALLOWED");
        }
        else
        {
            result = ApiResult.Error(StatusCodes.Status404NotFound, "NOT_FOUND");
        }

        await WriteAsync(context.Response, result).ConfigureAwait(false);
        if (logger.IsEnabled(LogLevel.Information))
        {
            logger.LogInformation("{Status} {Method} {Uri} ({Remote}) {Elapsed}", result.StatusCode, request.Method,
                path + request.QueryString.Value, RemoteAddress(context), GoDuration.Format(Stopwatch.GetElapsedTime(started)));
        }
    }

    private async ValueTask<ApiResult> InvokeAsync(ApiHandler handler, HttpRequest request)
    {
        try
        {
            return await handler(request).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogError(e, "ERROR: panic in HTTP handler");
            return ApiResult.Error(StatusCodes.Status500InternalServerError, "INTERNAL_ERROR");
        }
    }

    private static async Task WriteAsync(HttpResponse response, ApiResult result)
    {
        response.StatusCode = result.StatusCode;
        switch (result.Kind)
        {
            case ApiResultKind.Json:
            case ApiResultKind.Error:
                response.ContentType = "application/json; charset=utf-8";
                response.Headers[NsqContentTypeHeader] = NsqContentType;
                break;
            case ApiResultKind.Empty:
                response.Headers[NsqContentTypeHeader] = NsqContentType;
                break;
            case ApiResultKind.PlainText:
                response.ContentType = "text/plain; charset=utf-8";
                break;
        }

        response.ContentLength = result.Body.Length;
        if (result.Body.Length > 0)
        {
            await response.Body.WriteAsync(result.Body).ConfigureAwait(false);
        }
    }

    /// <summary>httprouter's RedirectTrailingSlash and RedirectFixedPath, for routes of this method only.</summary>
    private string? TryRedirectTarget(string path, string method)
    {
        if (HttpMethods.IsConnect(method) || path == "/")
        {
            return null;
        }

        var toggled = path.EndsWith('/') ? path[..^1] : path + "/";
        if (HasRoute(toggled, method))
        {
            return toggled;
        }

        var cleaned = CleanPath(path);
        foreach (var (candidate, methods) in _routes)
        {
            if (methods.ContainsKey(method) && !string.Equals(candidate, path, StringComparison.Ordinal) &&
                (string.Equals(candidate, cleaned, StringComparison.OrdinalIgnoreCase) ||
                 string.Equals(candidate + "/", cleaned, StringComparison.OrdinalIgnoreCase)))
            {
                return candidate;
            }
        }

        return null;
    }

    private bool HasRoute(string path, string method) =>
        _routes.TryGetValue(path, out var methods) && methods.ContainsKey(method);

    private static void Redirect(HttpContext context, string target)
    {
        var code = HttpMethods.IsGet(context.Request.Method)
            ? StatusCodes.Status301MovedPermanently
            : StatusCodes.Status308PermanentRedirect;
        context.Response.StatusCode = code;
        context.Response.Headers.Location = target + context.Request.QueryString.Value;
    }

    private static string AllowHeader(Dictionary<string, ApiHandler> methods)
    {
        var names = new List<string>(methods.Count + 1);
        foreach (var method in methods.Keys)
        {
            names.Add(method);
        }

        names.Sort(StringComparer.Ordinal);
        names.Add(HttpMethods.Options);
        return string.Join(", ", names);
    }

    /// <summary>Go's path.Clean for a rooted URL path: no empty, "." or ".." segments.</summary>
    internal static string CleanPath(string path)
    {
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0 || segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }

                continue;
            }

            segments.Add(segment);
        }

        var cleaned = "/" + string.Join('/', segments);
        return path.EndsWith('/') && cleaned.Length > 1 ? cleaned + "/" : cleaned;
    }

    private static string RemoteAddress(HttpContext context)
    {
        var connection = context.Connection;
        return connection.RemoteIpAddress == null
            ? ""
            : ListenAddress.Format(new System.Net.IPEndPoint(connection.RemoteIpAddress, connection.RemotePort));
    }
}
