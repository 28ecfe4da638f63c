using System.Text.Json;
using NsqSharp.Testing;

namespace NsqSharp.Nsqd.Tests.Lookup;

/// <summary>What the registration tests read from a real nsqlookupd over its HTTP API.</summary>
internal static class LookupdHttp
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public static async Task<JsonDocument> GetJsonAsync(this NsqlookupdProcess lookupd, string path) =>
        JsonDocument.Parse(await Http.GetStringAsync(lookupd.HttpBase + path));

    public static async Task PostAsync(this NsqlookupdProcess lookupd, string path)
    {
        using var response = await Http.PostAsync(lookupd.HttpBase + path, null);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>tcp_ports of the producers /lookup lists for the topic (empty if the topic is unknown).</summary>
    public static async Task<List<int>> ProducerPortsAsync(this NsqlookupdProcess lookupd, string topic)
    {
        using var response = await Http.GetAsync(lookupd.HttpBase + "/lookup?topic=" + topic);
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

    public static async Task<List<string>> ChannelsAsync(this NsqlookupdProcess lookupd, string topic)
    {
        using var doc = await lookupd.GetJsonAsync("/channels?topic=" + topic);
        var channels = new List<string>();
        foreach (var c in doc.RootElement.GetProperty("channels").EnumerateArray())
        {
            channels.Add(c.GetString()!);
        }

        return channels;
    }

    public static async Task<int> NodeCountAsync(this NsqlookupdProcess lookupd)
    {
        using var doc = await lookupd.GetJsonAsync("/nodes");
        return doc.RootElement.GetProperty("producers").GetArrayLength();
    }
}
