using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using NsqSharp.Common.Cli;
using NsqSharp.Common.Net;

namespace NsqSharp.Common.Http;

/// <summary>A route's handler. Route parameters (":opt") are in request.RouteValues.</summary>
public delegate ValueTask<ApiResult> ApiHandler(HttpRequest request);

/// <summary>
/// Method + path routing as upstream's servers set up julienschmidt/httprouter v1.3.0 (nsqd, nsqlookupd and
/// nsqadmin alike: httprouter.New() with HandleMethodNotAllowed, a PanicHandler and NotFound/MethodNotAllowed
/// handlers from internal/http_api):
/// <list type="bullet">
/// <item>no route for the path: 404 {"message":"NOT_FOUND"}; routes for other methods only: 405
/// {"message":"METHOD_NOT_ALLOWED"} with Allow (the sorted methods, OPTIONS among them);</item>
/// <item>OPTIONS with no OPTIONS route: 200, an empty body and Allow (HandleOPTIONS);</item>
/// <item>a route of the request's method for the path with the trailing slash toggled, or for the cleaned path
/// matched ignoring case: a redirect there, 301 for GET and 307 otherwise, the query kept
/// (RedirectTrailingSlash, RedirectFixedPath);</item>
/// <item>a handler that throws: 500 {"message":"INTERNAL_ERROR"} and the error logged (PanicHandler);
/// an <see cref="ApiException"/> is that V1 error instead;</item>
/// <item>each request of a route registered with log (and every 404, 405 and 500) logged as upstream's
/// http_api.Log does: "STATUS METHOD URI (REMOTE) ELAPSED" at Information.</item>
/// </list>
/// There is no automatic HEAD: upstream answers HEAD /ping with 405 too.
/// </summary>
public sealed class HttpRouter(ILogger logger)
{
    private readonly List<Route> _routes = [];
    private readonly Dictionary<string, Dictionary<string, Route>> _literal = new(StringComparer.Ordinal);
    private readonly HashSet<string> _methods = new(StringComparer.Ordinal);

    /// <summary>
    /// Turns an exception a handler threw into a reply (nsqd: Kestrel's body-size limit is 413 MSG_TOO_BIG);
    /// null leaves it to the 500.
    /// </summary>
    public Func<Exception, ApiResult?>? MapException { get; init; }

    /// <param name="method">The HTTP method, upper case.</param>
    /// <param name="pattern">An exact path, or one with ":name" segments and a final "*name".</param>
    /// <param name="handler">What answers.</param>
    /// <param name="log">Log each request (upstream's http_api.Log decorator; nsqd leaves it off /pub and /mpub).</param>
    public void Handle(string method, string pattern, ApiHandler handler, bool log = true)
    {
        var route = new Route(method, new RoutePattern(pattern), handler, log);
        if (_routes.Exists(r => r.Method == method && r.Pattern.Text == pattern))
        {
            throw new ArgumentException($"a handle is already registered for {method} {pattern}", nameof(pattern));
        }

        _routes.Add(route);
        _methods.Add(method);
        if (route.Pattern.IsLiteral)
        {
            if (!_literal.TryGetValue(pattern, out var byMethod))
            {
                byMethod = new Dictionary<string, Route>(StringComparer.Ordinal);
                _literal.Add(pattern, byMethod);
            }

            byMethod.Add(method, route);
        }
    }

    public async Task DispatchAsync(HttpContext context)
    {
        var request = context.Request;
        var method = request.Method;
        var path = request.Path.HasValue ? request.Path.Value! : "/";
        if (_methods.Contains(method))
        {
            if (Find(method, path, request) is { } route)
            {
                await InvokeAsync(route, context, path).ConfigureAwait(false);
                return;
            }

            if (!HttpMethods.IsConnect(method) && path != "/" && RedirectTarget(method, path) is { } target)
            {
                await RedirectAsync(context, target).ConfigureAwait(false);
                return;
            }
        }

        if (HttpMethods.IsOptions(method))
        {
            if (Allowed(path, method) is { } allow)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.Headers.Allow = allow;
                context.Response.ContentLength = 0;
                return;
            }
        }
        else if (Allowed(path, method) is { } allow)
        {
            context.Response.Headers.Allow = allow;
            await RespondAsync(context, path, Stopwatch.GetTimestamp(),
                ApiResult.Error(StatusCodes.Status405MethodNotAllowed, "METHOD_NOT_ALLOWED"), log: true).ConfigureAwait(false);
            return;
        }

        await RespondAsync(context, path, Stopwatch.GetTimestamp(), ApiResult.Error(StatusCodes.Status404NotFound, "NOT_FOUND"), log: true)
            .ConfigureAwait(false);
    }

    private Route? Find(string method, string path, HttpRequest? request)
    {
        if (_literal.TryGetValue(path, out var byMethod) && byMethod.TryGetValue(method, out var literal))
        {
            return literal;
        }

        foreach (var route in _routes)
        {
            if (route.Method != method || route.Pattern.IsLiteral)
            {
                continue;
            }

            var values = request == null ? null : new RouteValueDictionary();
            if (route.Pattern.Match(path, ignoreCase: false, values) != null)
            {
                if (request != null)
                {
                    request.RouteValues = values!;
                }

                return route;
            }
        }

        return null;
    }

    /// <summary>RedirectTrailingSlash, then RedirectFixedPath (CleanPath, case-insensitive, either trailing slash).</summary>
    private string? RedirectTarget(string method, string path)
    {
        var toggled = path.EndsWith('/') ? path[..^1] : path + "/";
        if (Find(method, toggled, request: null) != null)
        {
            return toggled;
        }

        var cleaned = CleanPath(path);
        var cleanedToggled = cleaned.Length > 1 && cleaned.EndsWith('/') ? cleaned[..^1] : cleaned + "/";
        foreach (var candidate in (ReadOnlySpan<string>)[cleaned, cleanedToggled])
        {
            foreach (var route in _routes)
            {
                if (route.Method == method && route.Pattern.Match(candidate, ignoreCase: true) is { } fixedPath)
                {
                    return fixedPath;
                }
            }
        }

        return null;
    }

    /// <summary>The methods with a route for this exact path, sorted, OPTIONS among them; null when none.</summary>
    private string? Allowed(string path, string method)
    {
        var allowed = new List<string>();
        foreach (var other in _methods)
        {
            if (other != method && other != HttpMethods.Options && Find(other, path, request: null) != null)
            {
                allowed.Add(other);
            }
        }

        if (allowed.Count == 0)
        {
            return null;
        }

        allowed.Add(HttpMethods.Options);
        allowed.Sort(StringComparer.Ordinal);
        return string.Join(", ", allowed);
    }

    private async Task InvokeAsync(Route route, HttpContext context, string path)
    {
        var started = Stopwatch.GetTimestamp();
        ApiResult result;
        var log = route.Log;
        try
        {
            result = await route.Handler(context.Request).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            result = e.Result;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away: nobody to answer
        }
        catch (Exception e) when (MapException?.Invoke(e) is { } mapped)
        {
            result = mapped;
        }
        catch (Exception e)
        {
            logger.LogError(e, "panic in HTTP handler - {Error}", e.Message);
            result = ApiResult.Error(StatusCodes.Status500InternalServerError, "INTERNAL_ERROR");
            log = true;
        }

        if (context.Response.HasStarted)
        {
            if (result.StatusCode != StatusCodes.Status200OK)
            {
                context.Abort(); // too late for an error reply: cut the response short rather than let it look complete
            }

            return;
        }

        await RespondAsync(context, path, started, result, log).ConfigureAwait(false);
    }

    private async Task RespondAsync(HttpContext context, string path, long started, ApiResult result, bool log)
    {
        await result.WriteAsync(context.Response).ConfigureAwait(false);
        if (log && logger.IsEnabled(LogLevel.Information))
        {
            logger.LogInformation("{Status} {Method} {Uri} ({Remote}) {Elapsed}", result.StatusCode, context.Request.Method,
                path + context.Request.QueryString.Value, RemoteAddress(context), GoDuration.Format(Stopwatch.GetElapsedTime(started)));
        }
    }

    /// <summary>Go's http.Redirect: Location with the query kept; for GET a short HTML body.</summary>
    private static async Task RedirectAsync(HttpContext context, string target)
    {
        var request = context.Request;
        var response = context.Response;
        var get = HttpMethods.IsGet(request.Method);
        response.StatusCode = get ? StatusCodes.Status301MovedPermanently : StatusCodes.Status307TemporaryRedirect;
        var location = new PathString(target).ToUriComponent() + request.QueryString.Value;
        response.Headers.Location = location;
        if (get || HttpMethods.IsHead(request.Method))
        {
            response.ContentType = "text/html; charset=utf-8";
        }

        var body = get ? Encoding.UTF8.GetBytes($"<a href=\"{WebUtility.HtmlEncode(location)}\">Moved Permanently</a>.\n\n") : [];
        response.ContentLength = body.Length;
        if (body.Length > 0)
        {
            await response.Body.WriteAsync(body).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// httprouter's CleanPath (Go's path.Clean for URL paths): rooted, no empty, "." or ".." segments,
    /// a trailing slash kept, and added after a final ".".
    /// </summary>
    internal static string CleanPath(string path)
    {
        if (path.Length == 0)
        {
            return "/";
        }

        var segments = new List<string>();
        var trailing = path.Length > 1 && path[^1] == '/';
        var parts = path.Split('/');
        for (var i = 0; i < parts.Length; i++)
        {
            var segment = parts[i];
            if (segment == "." && i == parts.Length - 1)
            {
                trailing = true;
            }
            else if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }
            }
            else if (segment.Length > 0 && segment != ".")
            {
                segments.Add(segment);
            }
        }

        var cleaned = "/" + string.Join('/', segments);
        return trailing && segments.Count > 0 ? cleaned + "/" : cleaned;
    }

    private static string RemoteAddress(HttpContext context)
    {
        var connection = context.Connection;
        return connection.RemoteIpAddress == null ? "" : ListenAddress.Format(new IPEndPoint(connection.RemoteIpAddress, connection.RemotePort));
    }

    private sealed record Route(string Method, RoutePattern Pattern, ApiHandler Handler, bool Log);
}
