using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Common.Tests.Testing;

/// <summary>
/// The harness's etcd: a single member on free 127.0.0.1 ports with a temp data dir, used over etcd 3.4's v3 JSON
/// gateway (POST /v3/kv/put and /v3/kv/range, base64 keys and values, int64s as strings).
/// </summary>
public sealed class EtcdProcessTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [EtcdFact(Timeout = 60_000)]
    public async Task PutsAndGetsAKeyOverTheV3GatewayThenStops()
    {
        string dataPath;
        await using (var etcd = await EtcdProcess.StartAsync())
        {
            dataPath = etcd.DataPath;
            Assert.True(ProcessResources.ListensOn(etcd.Process.Pid, etcd.ClientPort));
            Assert.True(Directory.EnumerateFileSystemEntries(etcd.DataPath).Any(), "etcd keeps its data in the temp dir");

            using var put = await Http.PostAsJsonAsync(etcd.ClientUrl + "/v3/kv/put", new { key = B64("nsq/topic"), value = B64("orders") });
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
            using var putReply = JsonDocument.Parse(await put.Content.ReadAsStringAsync());
            var revision = long.Parse(putReply.RootElement.GetProperty("header").GetProperty("revision").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(revision >= 2, $"revision {revision}");

            using var range = await Http.PostAsJsonAsync(etcd.ClientUrl + "/v3/kv/range", new { key = B64("nsq/topic") });
            Assert.True(range.IsSuccessStatusCode, await range.Content.ReadAsStringAsync());
            using var rangeReply = JsonDocument.Parse(await range.Content.ReadAsStringAsync());
            var kv = Assert.Single(rangeReply.RootElement.GetProperty("kvs").EnumerateArray());
            Assert.Equal("nsq/topic", FromB64(kv.GetProperty("key").GetString()!));
            Assert.Equal("orders", FromB64(kv.GetProperty("value").GetString()!));

            Assert.True(etcd.Terminate(TimeSpan.FromSeconds(20)), "etcd did not stop on SIGTERM:\n" + etcd.Output);
        }

        Assert.False(Directory.Exists(dataPath), "the data dir is removed on dispose");
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task StartsAgainOnFreshPortsWhenItsClientPortWasTaken()
    {
        using var blocker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        blocker.Start();
        var taken = ((System.Net.IPEndPoint)blocker.LocalEndpoint).Port;
        var handed = 0;
        await using var etcd = await EtcdProcess.StartAsync([], spec => spec with { ChoosePort = () => ++handed == 1 ? taken : FreePort.Next() });

        Assert.Equal(2, etcd.Server.Attempts);
        Assert.NotEqual(taken, etcd.ClientPort);
        using var health = await Http.GetAsync(etcd.ClientUrl + "/health");
        Assert.Contains("\"health\":\"true\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string FromB64(string base64) => Encoding.UTF8.GetString(Convert.FromBase64String(base64));
}
