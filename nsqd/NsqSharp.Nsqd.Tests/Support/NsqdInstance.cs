using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Nsqd.Tests.Support;

/// <summary>
/// The real nsqd executable (see <see cref="NsqdProcess"/>) plus the HTTP and raw-socket helpers the
/// conformance tests use. Killed and cleaned up on dispose.
/// </summary>
public sealed class NsqdInstance : IAsyncDisposable
{
    private readonly NsqdProcess _nsqd;

    private NsqdInstance(NsqdProcess nsqd)
    {
        _nsqd = nsqd;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    public int TcpPort => _nsqd.TcpPort;

    public int HttpPort => _nsqd.HttpPort;

    public int HttpsPort => _nsqd.HttpsPort;

    public string DataPath => _nsqd.DataPath;

    public string HttpBase => _nsqd.HttpBase;

    public string HttpsBase => $"https://127.0.0.1:{HttpsPort}";

    public HttpClient Http { get; }

    public string Output => _nsqd.Output;

    /// <summary>The process, for kill -9, SIGTERM and restart on the same ports and data.</summary>
    public NsqdProcess Process => _nsqd;

    public static async Task<NsqdInstance> StartAsync(IEnumerable<string> extraArgs, ProcessLimits? limits = null) =>
        new(await NsqdProcess.StartAsync(extraArgs, limits).ConfigureAwait(false));

    public Task<RawConnection> ConnectAsync(bool sendMagic = true) => RawConnection.ConnectAsync(TcpPort, sendMagic);

    /// <summary>A connection that already sent IDENTIFY (no feature negotiation) and got OK.</summary>
    public async Task<RawConnection> ConnectIdentifiedAsync(string identifyJson = "{}")
    {
        var conn = await ConnectAsync().ConfigureAwait(false);
        await conn.SendAsync("IDENTIFY", Encoding.UTF8.GetBytes(identifyJson)).ConfigureAwait(false);
        await conn.ExpectResponseAsync("OK").ConfigureAwait(false);
        return conn;
    }

    /// <summary>A connection subscribed to topic/channel (RDY still 0).</summary>
    public async Task<RawConnection> SubscribeAsync(string topic, string channel, string identifyJson = "{}")
    {
        var conn = await ConnectIdentifiedAsync(identifyJson).ConfigureAwait(false);
        await conn.SendAsync($"SUB {topic} {channel}").ConfigureAwait(false);
        await conn.ExpectResponseAsync("OK").ConfigureAwait(false);
        return conn;
    }

    public async Task<HttpReply> GetAsync(string pathAndQuery) => await HttpReply.FromAsync(await Http.GetAsync(HttpBase + pathAndQuery).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>
    /// Sends an HTTP/1.1 request with the request target exactly as given (HttpClient would
    /// re-escape malformed query strings) and returns the status code and body.
    /// </summary>
    public async Task<(int Status, string Body)> RawHttpAsync(string method, string target, string body = "")
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tcp.ConnectAsync("127.0.0.1", HttpPort, timeout.Token).ConfigureAwait(false);
        var stream = tcp.GetStream();
        var request = $"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request), timeout.Token).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(timeout.Token).ConfigureAwait(false);
        var status = int.Parse(response.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        var headerEnd = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var rest = headerEnd < 0 ? "" : response[(headerEnd + 4)..];
        if (response[..Math.Max(0, headerEnd)].Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            var text = new StringBuilder();
            while (true)
            {
                var eol = rest.IndexOf("\r\n", StringComparison.Ordinal);
                var size = Convert.ToInt32(rest[..eol], 16);
                if (size == 0)
                {
                    break;
                }

                text.Append(rest, eol + 2, size);
                rest = rest[(eol + 2 + size + 2)..];
            }

            rest = text.ToString();
        }

        return (status, rest);
    }

    public async Task<HttpReply> PostAsync(string pathAndQuery, byte[]? body = null)
    {
        using var content = new ByteArrayContent(body ?? []);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await HttpReply.FromAsync(await Http.PostAsync(HttpBase + pathAndQuery, content).ConfigureAwait(false)).ConfigureAwait(false);
    }

    public Task<HttpReply> PostAsync(string pathAndQuery, string body) => PostAsync(pathAndQuery, Encoding.UTF8.GetBytes(body));

    public async Task<HttpReply> SendAsync(HttpMethod method, string pathAndQuery, byte[]? body = null)
    {
        using var request = new HttpRequestMessage(method, HttpBase + pathAndQuery);
        if (body != null)
        {
            request.Content = new ByteArrayContent(body);
        }

        return await HttpReply.FromAsync(await Http.SendAsync(request).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Publishes over HTTP and asserts "OK".</summary>
    public async Task PublishAsync(string topic, string body)
    {
        var reply = await PostAsync($"/pub?topic={Uri.EscapeDataString(topic)}", body).ConfigureAwait(false);
        if (reply.Status != 200 || reply.Body != "OK")
        {
            throw new InvalidOperationException($"/pub failed: {reply.Status} {reply.Body}");
        }
    }

    public async Task<JsonElement> StatsAsync(string query = "")
    {
        var reply = await GetAsync("/stats?format=json" + query).ConfigureAwait(false);
        if (reply.Status != 200)
        {
            throw new InvalidOperationException($"/stats failed: {reply.Status} {reply.Body}");
        }

        return JsonDocument.Parse(reply.Body).RootElement.Clone();
    }

    /// <summary>The /stats entry of a topic, or null when the topic does not exist.</summary>
    public async Task<JsonElement?> TopicStatsAsync(string topic)
    {
        var stats = await StatsAsync("&topic=" + Uri.EscapeDataString(topic)).ConfigureAwait(false);
        var topics = stats.GetProperty("topics");
        if (topics.ValueKind == JsonValueKind.Null)
        {
            return null; // upstream's reply for a topic filter that matches nothing
        }

        foreach (var t in topics.EnumerateArray())
        {
            if (t.GetProperty("topic_name").GetString() == topic)
            {
                return t;
            }
        }

        return null;
    }

    /// <summary>The /stats entry of a channel, or null when the topic or channel does not exist.</summary>
    public async Task<JsonElement?> ChannelStatsAsync(string topic, string channel)
    {
        var t = await TopicStatsAsync(topic).ConfigureAwait(false);
        if (t == null)
        {
            return null;
        }

        foreach (var c in t.Value.GetProperty("channels").EnumerateArray())
        {
            if (c.GetProperty("channel_name").GetString() == channel)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>Polls a channel's /stats until the numeric field reaches the value (or fails after the deadline).</summary>
    public Task WaitForChannelAsync(string topic, string channel, string field, long expected, TimeSpan? within = null) =>
        Wait.UntilAsync(async () =>
        {
            var c = await ChannelStatsAsync(topic, channel).ConfigureAwait(false);
            return c != null && c.Value.GetProperty(field).GetInt64() == expected;
        }, within ?? TimeSpan.FromSeconds(10), $"{topic}/{channel} {field} == {expected}");

    public ValueTask DisposeAsync()
    {
        try
        {
            _nsqd.Dispose();
        }
        finally
        {
            Http.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>An HTTP answer read completely: status, body text, and the headers tests check.</summary>
public sealed record HttpReply(int Status, string Body, byte[] Bytes, string? ContentType, string? NsqContentType)
{
    public static async Task<HttpReply> FromAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            response.Headers.TryGetValues("X-NSQ-Content-Type", out var nsq);
            return new HttpReply((int)response.StatusCode, Encoding.UTF8.GetString(bytes), bytes,
                response.Content.Headers.ContentType?.ToString(), nsq?.FirstOrDefault());
        }
    }

    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

    /// <summary>The "message" of an error reply ({"message":"..."}).</summary>
    public string? Message => Json.TryGetProperty("message", out var m) ? m.GetString() : null;
}

/// <summary>Waiting for conditions with deadlines instead of sleeping.</summary>
public static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await condition().ConfigureAwait(false))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"condition not met within {within}: {what}");
            }

            await Task.Delay(25).ConfigureAwait(false);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan within, string what) =>
        UntilAsync(() => Task.FromResult(condition()), within, what);
}

/// <summary>Unique, valid topic/channel names so tests sharing one nsqd never interfere.</summary>
public static class Names
{
    public static string Unique(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 64)];
}
