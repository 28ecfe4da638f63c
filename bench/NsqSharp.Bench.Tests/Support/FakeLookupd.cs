using System.Collections.Concurrent;
using System.Net;
using System.Text;
using NsqSharp.Testing;

namespace NsqSharp.Bench.Tests.Support;

/// <summary>
/// An HTTP server on 127.0.0.1 that answers like nsqlookupd from a handler ("GET /lookup?topic=t" → status and JSON
/// body), and records every request line in order.
/// </summary>
internal sealed class FakeLookupd : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<string, (int Status, string Body)> _handler;
    private readonly Task _loop;

    public FakeLookupd(Func<string, (int Status, string Body)> handler)
    {
        _handler = handler;
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort.Next();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // taken meanwhile: another port
            }
        }

        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; private set; }

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>"METHOD /path?query" of every request, in arrival order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public int Count(string prefix) => Requests.Count(r => r.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>A V1 error body, as lookupd writes it.</summary>
    public static (int, string) Error(int status, string message) => (status, $"{{\"message\":\"{message}\"}}");

    public static string Producer(string address, string? nodeId = null)
    {
        var colon = address.LastIndexOf(':');
        var id = nodeId is null ? "" : $",\"node_id\":\"{nodeId}\"";
        return $"{{\"remote_address\":\"{address}\",\"hostname\":\"h\",\"broadcast_address\":\"{address[..colon]}\",\"tcp_port\":{address[(colon + 1)..]}," +
            $"\"http_port\":1,\"version\":\"1.3.0\"{id}}}";
    }

    public static string Partition(int partition, string? leader, int epoch, params string[] isr) =>
        $"{{\"partition\":{partition},\"leader\":{(leader is null ? "null" : $"\"{leader}\"")},\"leader_epoch\":{epoch}," +
        $"\"replicas\":[{string.Join(",", isr.Select(i => $"\"{i}\""))}],\"isr\":[{string.Join(",", isr.Select(i => $"\"{i}\""))}]}}";

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var line = $"{context.Request.HttpMethod} {context.Request.Url!.PathAndQuery}";
            Requests.Enqueue(line);
            var (status, body) = _handler(line);
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }
}
