namespace NsqSharp.Client.Consuming;

/// <summary>go-nsq's <c>buildLookupAddr</c>: <c>host:port</c> or a URL → <c>http://host:port/lookup?topic=…</c>.</summary>
internal static class LookupdEndpoint
{
    public static Uri Build(string address, string topic)
    {
        var text = address.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "http://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"invalid nsqlookupd address '{address}'", nameof(address));
        }

        if (!HasExplicitPort(text))
        {
            throw new ArgumentException($"invalid nsqlookupd address '{address}': missing port", nameof(address));
        }

        var builder = new UriBuilder(uri);
        if (builder.Path is "" or "/")
        {
            builder.Path = "/lookup";
        }

        var query = builder.Query.TrimStart('?');
        var topicParam = "topic=" + Uri.EscapeDataString(topic);
        builder.Query = query.Length == 0 ? topicParam : query + "&" + topicParam;
        return builder.Uri;
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
