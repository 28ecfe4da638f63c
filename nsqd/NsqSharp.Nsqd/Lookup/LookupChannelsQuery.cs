using System.Net.Http.Headers;
using System.Text.Json;
using NsqSharp.Common.Protocol;

namespace NsqSharp.Nsqd.Lookup;

/// <summary>
/// GET /channels?topic= against lookupd HTTP APIs (upstream clusterinfo.GetLookupdTopicChannels),
/// used when a topic is created so channels known cluster-wide exist before the first message.
/// </summary>
internal static class LookupChannelsQuery
{
    private const int MaxResponseBytes = 4 * 1024 * 1024;

    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(2),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // each query carries its own deadline
        MaxResponseContentBufferSize = MaxResponseBytes,
    };

    /// <summary>Union of the non-ephemeral channels every reachable lookupd knows; failures count as none.</summary>
    public static async Task<IReadOnlyList<string>> QueryAsync(IReadOnlyList<string> httpAddresses, string topic, TimeSpan timeout,
        CancellationToken ct)
    {
        if (httpAddresses.Count == 0)
        {
            return [];
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var queries = new Task<List<string>?>[httpAddresses.Count];
        for (var i = 0; i < queries.Length; i++)
        {
            queries[i] = QueryOneAsync(httpAddresses[i], topic, deadline.Token);
        }

        await Task.WhenAll(queries).ConfigureAwait(false);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var union = new List<string>();
        foreach (var query in queries)
        {
            if (query.Result is not { } channels)
            {
                continue;
            }

            foreach (var channel in channels)
            {
                // An ephemeral channel without a consumer would only be deleted again (upstream skips them too).
                if (!NsqNames.IsEphemeral(channel) && NsqNames.IsValidChannelName(channel) &&
                    seen.Add(channel))
                {
                    union.Add(channel);
                }
            }
        }

        return union;
    }

    private static async Task<List<string>?> QueryOneAsync(string httpAddress, string topic, CancellationToken ct)
    {
        try
        {
            var url = "http://" + httpAddress + "/channels?topic=" + Uri.EscapeDataString(topic);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.nsq") { Parameters = { new NameValueHeaderValue("version", "1.0") } });
            using var response = await Http.SendAsync(request, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            return Parse(body);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>{"channels":[…]} (V1), or the pre-1.0 envelope {"status_code":200,"data":{"channels":[…]}}.</summary>
    internal static List<string>? Parse(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (!root.TryGetProperty("channels", out var channels) &&
            !(root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object &&
              data.TryGetProperty("channels", out channels)))
        {
            return null;
        }

        if (channels.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var result = new List<string>(channels.GetArrayLength());
        foreach (var item in channels.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.GetString() is { } name)
            {
                result.Add(name);
            }
        }

        return result;
    }
}
