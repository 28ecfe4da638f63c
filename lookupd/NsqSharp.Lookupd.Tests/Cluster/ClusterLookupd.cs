using System.Net;
using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Lookupd.Tests.Cluster;

/// <summary>The real nsqlookupd executable in cluster mode on 127.0.0.1, with an HTTP client for its API.</summary>
internal sealed class ClusterLookupd : IAsyncDisposable
{
    private ClusterLookupd(NsqlookupdProcess process)
    {
        Process = process;
        Http = new HttpClient { BaseAddress = new Uri(process.HttpBase + "/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public NsqlookupdProcess Process { get; }

    public HttpClient Http { get; }

    /// <summary>Its controller candidate id: broadcast address (127.0.0.1) and HTTP port.</summary>
    public string Id => Process.HttpAddress;

    public static async Task<ClusterLookupd> StartAsync(string etcdUrl, string clusterName, params string[] extraArgs) =>
        new(await NsqlookupdProcess.StartAsync([$"--etcd-endpoints={etcdUrl}", $"--cluster-name={clusterName}", .. extraArgs]));

    public Task<(HttpStatusCode Status, string Body)> GetAsync(string url) => SendAsync(HttpMethod.Get, url);

    public Task<(HttpStatusCode Status, string Body)> PostAsync(string url) => SendAsync(HttpMethod.Post, url);

    public async Task<JsonElement> GetJsonAsync(string url)
    {
        var (status, body) = await GetAsync(url);
        if (status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"GET {url}: {(int)status} {body}");
        }

        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>Until GET /cluster says this instance is the controller (bounded).</summary>
    public Task WaitUntilControllerAsync(TimeSpan? timeout = null) =>
        Wait.UntilAsync(async () =>
        {
            var (status, body) = await GetAsync("/cluster");
            if (status != HttpStatusCode.OK)
            {
                return false;
            }

            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("is_controller").GetBoolean();
        }, Id + " to be the controller", timeout ?? TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string url)
    {
        // Sent verbatim: HttpClient would otherwise re-escape malformed %-sequences the tests need.
        var uri = new Uri(Http.BaseAddress + url.TrimStart('/'), new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(method, uri);
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
