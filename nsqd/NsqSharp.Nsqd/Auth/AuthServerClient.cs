using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Nsqd.Auth;

/// <summary>
/// Asks an external auth server (--auth-http-address, repeatable) whether a secret may publish or
/// subscribe, exactly as upstream: GET /auth?remote_ip=&amp;tls=&amp;secret=&amp;common_name= (or a form POST),
/// starting at a random address and failing over to the others.
/// </summary>
public sealed class AuthServerClient : IDisposable
{
    private readonly IReadOnlyList<string> _addresses;
    private readonly bool _post;
    private readonly HttpClient _http;
    private readonly ILogger _logger;

    public AuthServerClient(NsqdOptions options, ILogger logger)
    {
        _addresses = options.AuthHttpAddresses;
        _post = string.Equals(options.AuthHttpRequestMethod, "post", StringComparison.OrdinalIgnoreCase);
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = options.HttpClientConnectTimeout })
        {
            Timeout = options.HttpClientRequestTimeout,
        };
    }

    public bool Enabled => _addresses.Count > 0;

    /// <summary>Returns the granted state, or throws with upstream's reason when no server gives a valid answer.</summary>
    public async Task<AuthState> QueryAsync(string secret, string remoteIp, bool tls, string commonName, CancellationToken ct)
    {
        var start = Random.Shared.Next(_addresses.Count);
        Exception? last = null;
        for (var i = 0; i < _addresses.Count; i++)
        {
            var address = _addresses[(start + i) % _addresses.Count];
            try
            {
                return await QueryOneAsync(address, secret, remoteIp, tls, commonName, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidDataException)
            {
                _logger.LogWarning("auth: query to {Address} failed: {Error}", address, e.Message);
                last = e;
            }
        }

        throw new InvalidDataException("unable to access auth server", last);
    }

    private async Task<AuthState> QueryOneAsync(string address, string secret, string remoteIp, bool tls, string commonName, CancellationToken ct)
    {
        var baseUrl = address.Contains("://", StringComparison.Ordinal) ? address : $"http://{address}/auth";
        var fields = new Dictionary<string, string>
        {
            ["remote_ip"] = remoteIp,
            ["tls"] = tls ? "true" : "false",
            ["secret"] = secret,
            ["common_name"] = commonName,
        };
        using var request = _post
            ? new HttpRequestMessage(HttpMethod.Post, baseUrl) { Content = new FormUrlEncodedContent(fields) }
            : new HttpRequestMessage(HttpMethod.Get, baseUrl + "?" + Query(fields));
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"got response {(int)response.StatusCode} from auth server");
        }

        var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        var state = JsonSerializer.Deserialize(body, AuthJsonContext.Default.AuthState) ?? throw new InvalidDataException("empty auth response");
        foreach (var a in state.Authorizations)
        {
            var error = a.Compile();
            if (error != null)
            {
                throw new InvalidDataException(error);
            }
        }

        if (state.Ttl <= 0)
        {
            throw new InvalidDataException($"invalid TTL {state.Ttl} (must be >0)");
        }

        state.Expires = DateTimeOffset.UtcNow.AddSeconds(state.Ttl);
        return state;
    }

    private static string Query(Dictionary<string, string> fields)
    {
        var parts = new List<string>(fields.Count);
        foreach (var (k, v) in fields)
        {
            parts.Add(k + "=" + Uri.EscapeDataString(v));
        }

        return string.Join('&', parts);
    }

    public void Dispose() => _http.Dispose();
}
