using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Nsqd.Tests.Lookup;

/// <summary>Our nsqlookupd as a process on free ports, restartable on the same ports, with HTTP helpers.</summary>
internal sealed class LookupdProcess : IDisposable
{
    private readonly string[] _extraArgs;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private ManagedProcess? _process;

    private LookupdProcess(string[] extraArgs)
    {
        _extraArgs = extraArgs;
        TcpPort = FreePort.Next();
        HttpPort = FreePort.Next();
    }

    public int TcpPort { get; }

    public int HttpPort { get; }

    public string TcpAddress => $"127.0.0.1:{TcpPort}";

    public string HttpBase => $"http://127.0.0.1:{HttpPort}";

    public static async Task<LookupdProcess> StartAsync(params string[] extraArgs)
    {
        var lookupd = new LookupdProcess(extraArgs);
        await lookupd.RestartAsync();
        return lookupd;
    }

    public async Task RestartAsync()
    {
        _process?.Dispose();
        _process = ManagedProcess.Start(RepoPaths.Executable("nsqlookupd"),
        [
            $"-tcp-address=127.0.0.1:{TcpPort}", $"-http-address=127.0.0.1:{HttpPort}", "-broadcast-address=127.0.0.1",
            .. _extraArgs,
        ]);
        await _process.WaitForHttpAsync(HttpBase + "/ping", TimeSpan.FromSeconds(30));
    }

    public void Kill() => _process?.KillHard();

    public string Output => _process?.Output ?? "";

    public async Task<JsonDocument> GetJsonAsync(string path) =>
        JsonDocument.Parse(await _http.GetStringAsync(HttpBase + path));

    public async Task PostAsync(string path)
    {
        using var response = await _http.PostAsync(HttpBase + path, null);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>tcp_ports of the producers /lookup lists for the topic (empty if the topic is unknown).</summary>
    public async Task<List<int>> ProducerPortsAsync(string topic)
    {
        using var response = await _http.GetAsync(HttpBase + "/lookup?topic=" + topic);
        var ports = new List<int>();
        if (!response.IsSuccessStatusCode)
        {
            return ports;
        }

        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        foreach (var producer in doc.RootElement.GetProperty("producers").EnumerateArray())
        {
            ports.Add(producer.GetProperty("tcp_port").GetInt32());
        }

        return ports;
    }

    public async Task<List<string>> ChannelsAsync(string topic)
    {
        using var doc = await GetJsonAsync("/channels?topic=" + topic);
        var channels = new List<string>();
        foreach (var c in doc.RootElement.GetProperty("channels").EnumerateArray())
        {
            channels.Add(c.GetString()!);
        }

        return channels;
    }

    public async Task<int> NodeCountAsync()
    {
        using var doc = await GetJsonAsync("/nodes");
        return doc.RootElement.GetProperty("producers").GetArrayLength();
    }

    public void Dispose()
    {
        _process?.Dispose();
        _http.Dispose();
    }
}
