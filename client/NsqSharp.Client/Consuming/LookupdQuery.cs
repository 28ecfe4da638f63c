using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace NsqSharp.Client.Consuming;

/// <summary>One GET /lookup?topic=T against an nsqlookupd: the producers' TCP addresses (none when it does not know the
/// topic), with go-nsq's headers and a bound on the answer. Used by the consumer's poller and the lookupd producer.</summary>
internal static class LookupdQuery
{
    private const int MaxResponseBytes = 4 * 1024 * 1024;

    public static async Task<IReadOnlyList<string>> ProducersAsync(HttpClient http, NsqConfig config, Uri endpoint, ILogger logger, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint);
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/vnd.nsq; version=1.0"));
        if (config.LookupdAuthorization && !string.IsNullOrEmpty(config.AuthSecret))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", config.AuthSecret);
        }

        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            .ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            // TOPIC_NOT_FOUND: no nsqd has registered the topic yet - not an error, just nothing to connect to
            Log.LookupdTopicNotFound(logger, endpoint.ToString());
            return [];
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"nsqlookupd {endpoint} answered {(int)response.StatusCode}");
        }

        if (response.Content.Headers.ContentLength > MaxResponseBytes)
        {
            throw new NsqProtocolException($"nsqlookupd {endpoint} response too large");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (body.Length + read > MaxResponseBytes)
            {
                throw new NsqProtocolException($"nsqlookupd {endpoint} response too large");
            }

            body.Write(buffer, 0, read);
        }

        return LookupdResponse.ParseProducers(body.GetBuffer().AsSpan(0, (int)body.Length));
    }
}
