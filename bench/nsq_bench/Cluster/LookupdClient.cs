using System.Globalization;
using System.Net;
using System.Text.Json;

namespace NsqSharp.Bench.Cluster;

/// <summary>
/// nsqlookupd answered with an error, an unexpected body, or could not be reached. Retryable: a 503 (cluster mode
/// before lookupd has read etcd, or no live node registered yet), worth asking again within the caller's bound.
/// </summary>
internal sealed class LookupdException(string message, bool retryable = false) : Exception(message)
{
    public bool Retryable { get; } = retryable;
}

/// <summary>
/// The few nsqlookupd HTTP calls nsq_bench makes: GET /lookup, POST /topic/create, GET /nodes. Each call is bounded
/// by the client's timeout; every failure becomes a <see cref="LookupdException"/> naming the lookupd.
/// </summary>
internal sealed class LookupdClient : IDisposable
{
    private readonly HttpClient _http;

    public LookupdClient(string address, TimeSpan timeout)
    {
        Address = address;
        BaseUri = ParseBase(address);
        _http = new HttpClient { BaseAddress = BaseUri, Timeout = timeout };
    }

    /// <summary>The address as given on the command line.</summary>
    public string Address { get; }

    public Uri BaseUri { get; }

    /// <summary>"host:port" or "http(s)://host:port[/]" (as --lookupd-http-address is spelled upstream); FormatException otherwise.</summary>
    public static Uri ParseBase(string address)
    {
        var text = address.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) ||
            (uri.IsDefaultPort && !HasExplicitPort(text)) || uri.AbsolutePath is not ("/" or ""))
        {
            throw new FormatException($"invalid --lookupd-http-address \"{address}\" (want host:port, e.g. 127.0.0.1:4161)");
        }

        return new Uri(uri.GetLeftPart(UriPartial.Authority) + "/");
    }

    /// <summary>The topic's producers (and partitions in cluster mode); null when lookupd does not know the topic (404).</summary>
    public async Task<LookupAnswer?> LookupAsync(string topic, CancellationToken ct)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "lookup?topic=" + Uri.EscapeDataString(topic), ct).ConfigureAwait(false);
        if (status == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (status != HttpStatusCode.OK)
        {
            throw new LookupdException($"lookupd {Address}: GET /lookup?topic={topic} answered {(int)status} {Message(body)}",
                status == HttpStatusCode.ServiceUnavailable);
        }

        try
        {
            return LookupAnswer.Parse(body);
        }
        catch (LookupdException e)
        {
            throw new LookupdException($"lookupd {Address}: GET /lookup?topic={topic}: {e.Message}");
        }
    }

    /// <summary>POST /topic/create with the settings that are set (0 = lookupd's default); an error answer throws.</summary>
    public async Task CreateTopicAsync(string topic, TopicSettings settings, CancellationToken ct)
    {
        var path = "topic/create?topic=" + Uri.EscapeDataString(topic) + settings.QueryString();
        var (status, body) = await SendAsync(HttpMethod.Post, path, ct).ConfigureAwait(false);
        if (status != HttpStatusCode.OK)
        {
            throw new LookupdException($"lookupd {Address}: POST /{path} answered {(int)status} {Message(body)}",
                status == HttpStatusCode.ServiceUnavailable);
        }
    }

    /// <summary>GET /nodes: every nsqd registered with this lookupd.</summary>
    public async Task<IReadOnlyList<RouteNode>> NodesAsync(CancellationToken ct)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "nodes", ct).ConfigureAwait(false);
        if (status != HttpStatusCode.OK)
        {
            throw new LookupdException($"lookupd {Address}: GET /nodes answered {(int)status} {Message(body)}");
        }

        try
        {
            return LookupAnswer.ParseNodes(body);
        }
        catch (LookupdException e)
        {
            throw new LookupdException($"lookupd {Address}: GET /nodes: {e.Message}");
        }
    }

    /// <summary>GET /cluster (lookupd in cluster mode): every node registered in etcd.</summary>
    public async Task<IReadOnlyList<RouteNode>> ClusterNodesAsync(CancellationToken ct)
    {
        var (status, body) = await SendAsync(HttpMethod.Get, "cluster", ct).ConfigureAwait(false);
        if (status != HttpStatusCode.OK)
        {
            throw new LookupdException($"lookupd {Address}: GET /cluster answered {(int)status} {Message(body)}");
        }

        try
        {
            return LookupAnswer.ParseClusterNodes(body);
        }
        catch (LookupdException e)
        {
            throw new LookupdException($"lookupd {Address}: GET /cluster: {e.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Accept.ParseAdd("application/vnd.nsq; version=1.0"); // upstream's V1 answers (no status_code wrapper)
            using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            return (response.StatusCode, body);
        }
        catch (HttpRequestException e)
        {
            throw new LookupdException($"cannot reach lookupd {Address}: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new LookupdException($"lookupd {Address} did not answer {method} /{path} within {_http.Timeout.TotalSeconds:0.#}s");
        }
    }

    /// <summary>Upstream's V1 error body {"message":"TOPIC_NOT_FOUND"} as its message, else the body (short).</summary>
    private static string Message(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
            {
                var error = doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? $" ({e.GetString()})" : "";
                return m.GetString() + error;
            }
        }
        catch (JsonException)
        {
            // not JSON: show the text
        }

        return body.Length > 200 ? body[..200] + "..." : body;
    }

    private static bool HasExplicitPort(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = url.IndexOfAny(['/', '?', '#'], start);
        var authority = end < 0 ? url[start..] : url[start..end];
        var afterHost = authority.LastIndexOf(']') + 1; // skip an IPv6 literal
        return authority.IndexOf(':', afterHost) >= 0;
    }
}

/// <summary>What POST /topic/create is given (0 = not sent: lookupd's default).</summary>
internal sealed record TopicSettings(int Partitions, int Replicas, int MinIsr)
{
    public static readonly TopicSettings Defaults = new(0, 0, 0);

    public string QueryString()
    {
        var q = "";
        if (Partitions > 0)
        {
            q += "&partitions=" + Partitions.ToString(CultureInfo.InvariantCulture);
        }

        if (Replicas > 0)
        {
            q += "&replicas=" + Replicas.ToString(CultureInfo.InvariantCulture);
        }

        if (MinIsr > 0)
        {
            q += "&min_isr=" + MinIsr.ToString(CultureInfo.InvariantCulture);
        }

        return q;
    }

    public override string ToString()
    {
        string Or(int v) => v > 0 ? v.ToString(CultureInfo.InvariantCulture) : "default";
        return $"partitions {Or(Partitions)}, replicas {Or(Replicas)}, min_isr {Or(MinIsr)}";
    }
}
