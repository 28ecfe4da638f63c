using System.Text.Json;
using System.Text.RegularExpressions;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Http;

/// <summary>
/// /stats in JSON (upstream's schema from nsqd/stats.go) and text, its filters and options
/// (http_test.go TestHTTPgetStatusJSON/Text, TestHTTPClientStats), and /metrics in Prometheus text.
/// </summary>
public sealed partial class StatsApiTests(DefaultNsqdFixture fixture) : IClassFixture<DefaultNsqdFixture>
{
    private static readonly string[] TopicKeys =
        ["topic_name", "channels", "depth", "backend_depth", "message_count", "message_bytes", "paused", "e2e_processing_latency"];

    private static readonly string[] ChannelKeys =
    [
        "channel_name", "depth", "backend_depth", "in_flight_count", "deferred_count", "message_count", "requeue_count",
        "timeout_count", "client_count", "clients", "paused", "e2e_processing_latency",
    ];

    private static readonly string[] ClientKeys =
    [
        "client_id", "hostname", "version", "remote_address", "state", "ready_count", "in_flight_count", "message_count",
        "finish_count", "requeue_count", "connect_ts", "sample_rate", "deflate", "snappy", "user_agent", "tls",
        "tls_cipher_suite", "tls_version", "tls_negotiated_protocol", "tls_negotiated_protocol_is_mutual",
    ];

    private static readonly string[] MemoryKeys =
    [
        "heap_objects", "heap_idle_bytes", "heap_in_use_bytes", "heap_released_bytes", "gc_pause_usec_100", "gc_pause_usec_99",
        "gc_pause_usec_95", "next_gc_bytes", "gc_total_runs",
    ];

    private NsqdInstance Nsqd => fixture.Nsqd;

    private static void AssertKeys(JsonElement element, IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            Assert.True(element.TryGetProperty(key, out _), $"missing \"{key}\" in {element}");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task JsonStartsLikeUpstream()
    {
        // upstream TestHTTPgetStatusJSON checks this exact prefix (on an nsqd without topics)
        await using var fresh = await NsqdInstance.StartAsync([]);
        var reply = await fresh.GetAsync("/stats?format=json");
        Assert.Equal(200, reply.Status);
        var startTime = reply.Json.GetProperty("start_time").GetInt64();
        Assert.StartsWith($"{{\"version\":\"1.3.0\",\"health\":\"OK\",\"start_time\":{startTime},\"topics\":[],\"memory\":{{", reply.Body, StringComparison.Ordinal);
        Assert.EndsWith(",\"producers\":[]}", reply.Body, StringComparison.Ordinal);
        Assert.StartsWith("application/json", reply.ContentType, StringComparison.Ordinal);
        Assert.Equal("nsq; version=1.0", reply.NsqContentType);
        AssertKeys(reply.Json.GetProperty("memory"), MemoryKeys);
    }

    [Fact(Timeout = 30_000)]
    public async Task JsonSchemaOfTopicsChannelsAndClients()
    {
        var topic = Names.Unique("schema");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch", "{\"client_id\":\"schema-client\"}");
        await conn.SendAsync("RDY 3");
        await Nsqd.PublishAsync(topic, "hello");
        var msg = await conn.ExpectMessageAsync();
        await Nsqd.WaitForChannelAsync(topic, "ch", "in_flight_count", 1);

        var t = (await Nsqd.TopicStatsAsync(topic))!.Value;
        AssertKeys(t, TopicKeys);
        Assert.Equal(1, t.GetProperty("message_count").GetInt64());
        Assert.Equal(5, t.GetProperty("message_bytes").GetInt64());
        Assert.False(t.GetProperty("paused").GetBoolean());
        Assert.Equal(0, t.GetProperty("e2e_processing_latency").GetProperty("count").GetInt64());
        Assert.Equal(JsonValueKind.Null, t.GetProperty("e2e_processing_latency").GetProperty("percentiles").ValueKind);

        var ch = t.GetProperty("channels")[0];
        AssertKeys(ch, ChannelKeys);
        Assert.Equal("ch", ch.GetProperty("channel_name").GetString());
        Assert.Equal(1, ch.GetProperty("in_flight_count").GetInt64());
        Assert.Equal(1, ch.GetProperty("message_count").GetInt64());
        Assert.Equal(1, ch.GetProperty("client_count").GetInt32());

        var client = ch.GetProperty("clients")[0];
        AssertKeys(client, ClientKeys);
        Assert.Equal("schema-client", client.GetProperty("client_id").GetString());
        Assert.Equal(3, client.GetProperty("ready_count").GetInt64());
        Assert.Equal(1, client.GetProperty("in_flight_count").GetInt64());
        Assert.Equal(1, client.GetProperty("message_count").GetInt64());
        Assert.InRange(client.GetProperty("connect_ts").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.False(client.GetProperty("tls").GetBoolean());
        Assert.False(client.TryGetProperty("pub_counts", out _), "pub_counts is omitted for clients that never published");
        await conn.SendAsync("FIN " + msg.Id);
    }

    [Fact(Timeout = 30_000)]
    public async Task IncludeClientsFalseStillCountsThem()
    {
        // upstream TestHTTPClientStats
        var topic = Names.Unique("clients");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        foreach (var query in new[] { "", "&include_clients=true" })
        {
            var ch = (await Nsqd.StatsAsync($"&topic={topic}{query}")).GetProperty("topics")[0].GetProperty("channels")[0];
            Assert.Equal(1, ch.GetProperty("clients").GetArrayLength());
            Assert.Equal(1, ch.GetProperty("client_count").GetInt32());
        }

        var stats = await Nsqd.StatsAsync($"&topic={topic}&include_clients=false");
        var without = stats.GetProperty("topics")[0].GetProperty("channels")[0];
        Assert.Equal(JsonValueKind.Null, without.GetProperty("clients").ValueKind);
        Assert.Equal(1, without.GetProperty("client_count").GetInt32());
        Assert.Equal(JsonValueKind.Null, stats.GetProperty("producers").ValueKind);
    }

    [Fact(Timeout = 30_000)]
    public async Task IncludeMemFalseOmitsMemory()
    {
        Assert.False((await Nsqd.StatsAsync("&include_mem=false")).TryGetProperty("memory", out _));
        Assert.True((await Nsqd.StatsAsync("&include_mem=true")).TryGetProperty("memory", out _));
        Assert.True((await Nsqd.StatsAsync("&include_mem=nonsense")).TryGetProperty("memory", out _));
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicAndChannelFilters()
    {
        var a = Names.Unique("filtera");
        var b = Names.Unique("filterb");
        await Nsqd.PostAsync($"/topic/create?topic={a}");
        await Nsqd.PostAsync($"/topic/create?topic={b}");
        await Nsqd.PostAsync($"/channel/create?topic={a}&channel=one");
        await Nsqd.PostAsync($"/channel/create?topic={a}&channel=two");
        await Nsqd.PostAsync($"/channel/create?topic={b}&channel=three");

        var onlyA = (await Nsqd.StatsAsync($"&topic={a}")).GetProperty("topics");
        Assert.Equal(1, onlyA.GetArrayLength());
        Assert.Equal(2, onlyA[0].GetProperty("channels").GetArrayLength());

        var onlyTwo = (await Nsqd.StatsAsync($"&topic={a}&channel=two")).GetProperty("topics")[0].GetProperty("channels");
        Assert.Equal(1, onlyTwo.GetArrayLength());
        Assert.Equal("two", onlyTwo[0].GetProperty("channel_name").GetString());

        // a channel filter alone drops the topics that lack that channel
        var byChannel = (await Nsqd.StatsAsync("&channel=three")).GetProperty("topics");
        Assert.Contains(byChannel.EnumerateArray(), t => t.GetProperty("topic_name").GetString() == b);
        Assert.DoesNotContain(byChannel.EnumerateArray(), t => t.GetProperty("topic_name").GetString() == a);

        // an unknown topic gives upstream's empty Stats: null lists
        var none = await Nsqd.StatsAsync("&topic=" + Names.Unique("missing"));
        Assert.Equal(JsonValueKind.Null, none.GetProperty("topics").ValueKind);
        Assert.Equal(JsonValueKind.Null, none.GetProperty("producers").ValueKind);
    }

    [Fact(Timeout = 30_000)]
    public async Task TopicsAndChannelsAreSortedByName()
    {
        var prefix = Names.Unique("sorted");
        foreach (var suffix in new[] { "c", "a", "b" })
        {
            await Nsqd.PostAsync($"/topic/create?topic={prefix}{suffix}");
        }

        foreach (var channel in new[] { "zeta", "alpha", "mid" })
        {
            await Nsqd.PostAsync($"/channel/create?topic={prefix}a&channel={channel}");
        }

        var topics = (await Nsqd.StatsAsync()).GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("topic_name").GetString()!).ToList();
        Assert.Equal(topics.OrderBy(n => n, StringComparer.Ordinal).ToList(), topics);
        var channels = (await Nsqd.TopicStatsAsync(prefix + "a"))!.Value.GetProperty("channels").EnumerateArray()
            .Select(c => c.GetProperty("channel_name").GetString()).ToList();
        Assert.Equal(["alpha", "mid", "zeta"], channels);
    }

    [Fact(Timeout = 30_000)]
    public async Task ProducersAreListedWithTheirPubCounts()
    {
        var topic = Names.Unique("producers");
        await using var conn = await Nsqd.ConnectIdentifiedAsync("{\"client_id\":\"prod-stats\",\"hostname\":\"prod-host\"}");
        await conn.PublishAsync(topic, "x");
        await conn.ExpectResponseAsync("OK");
        var producer = (await Nsqd.StatsAsync()).GetProperty("producers").EnumerateArray()
            .Single(p => p.GetProperty("client_id").GetString() == "prod-stats");
        AssertKeys(producer, ClientKeys);
        Assert.Equal("prod-host", producer.GetProperty("hostname").GetString());
        var count = producer.GetProperty("pub_counts").EnumerateArray().Single();
        Assert.Equal(topic, count.GetProperty("topic").GetString());
        Assert.Equal(1, count.GetProperty("count").GetInt64());
    }

    [Fact(Timeout = 30_000)]
    public async Task TextIsTheDefaultFormat()
    {
        // upstream TestHTTPgetStatusText plus printStats' layout
        var topic = Names.Unique("text");
        await using var conn = await Nsqd.SubscribeAsync(topic, "textch", "{\"hostname\":\"text-host\",\"user_agent\":\"ua/1\"}");
        await using var producer = await Nsqd.ConnectIdentifiedAsync("{\"hostname\":\"pub-host\"}");
        await producer.PublishAsync(topic, "x");
        await producer.ExpectResponseAsync("OK");
        // The channel counts a message when its cursor reads it, a moment after the PUB's OK (before the pause, which
        // would stop the read).
        await Nsqd.WaitForChannelAsync(topic, "textch", "message_count", 1);
        await Nsqd.PostAsync($"/channel/pause?topic={topic}&channel=textch");

        foreach (var query in new[] { "", "?format=text", "?format=whatever" })
        {
            var reply = await Nsqd.GetAsync("/stats" + query);
            Assert.Equal(200, reply.Status);
            var text = reply.Body;
            Assert.StartsWith("nsqd v1.3.0", text, StringComparison.Ordinal);
            Assert.Matches(@"(?m)^start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", text);
            Assert.Matches(@"(?m)^uptime [0-9hms.]+$", text);
            Assert.Contains("\nHealth: OK\n", text, StringComparison.Ordinal);
            Assert.Contains("\nMemory:\n   heap_objects", text, StringComparison.Ordinal);
            Assert.Matches($@"(?m)^   \[{Regex.Escape(topic)}\s*\] depth: 0\s+be-depth: 0\s+msgs: 1\s+e2e%: $", text);
            Assert.Matches(@"(?m)^   \*P \[textch\s+\] depth: 1\s+be-depth: 1\s+inflt: 0\s+def: 0\s+re-q: 0\s+timeout: 0\s+msgs: 1\s+e2e%: $", text);
            Assert.Matches(@"(?m)^        \[V2 text-host:\d+ ua/1\s*\] state: 3 inflt: 0\s+rdy: 0\s+fin: 0\s+re-q: 0\s+msgs: 0\s+connected: \d+s$", text);
            Assert.Contains("\nProducers:\n", text, StringComparison.Ordinal);
            Assert.Matches($@"(?m)^   \[V2 pub-host:\d+ \s*\] msgs: 1\s+topics: {Regex.Escape(topic)}=1 connected: \d+s$", text);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task TextWithoutClientsOrMemory()
    {
        var reply = await Nsqd.GetAsync("/stats?format=text&include_clients=false&include_mem=false");
        Assert.DoesNotContain("Memory:", reply.Body, StringComparison.Ordinal);
        Assert.Contains("\nProducers: None\n", reply.Body, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task MetricsArePrometheusText()
    {
        var topic = Names.Unique("metrics");
        await using var conn = await Nsqd.SubscribeAsync(topic, "ch");
        await Nsqd.PublishAsync(topic, "12345");
        await Nsqd.PublishAsync(topic, "678");

        var reply = await Nsqd.GetAsync("/metrics");
        Assert.Equal(200, reply.Status);
        Assert.StartsWith("text/plain", reply.ContentType, StringComparison.Ordinal);
        Assert.Contains("version=0.0.4", reply.ContentType, StringComparison.Ordinal);

        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        var typed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in reply.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                Assert.True(typed.Add(parts[2]), $"TYPE given twice for {parts[2]}");
                continue;
            }

            if (line.StartsWith('#'))
            {
                Assert.StartsWith("# HELP ", line, StringComparison.Ordinal);
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            samples[match.Groups["series"].Value] = double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        Assert.Equal(2, samples[$"nsqd_topic_messages_total{{topic=\"{topic}\"}}"]);
        Assert.Equal(8, samples[$"nsqd_topic_message_bytes_total{{topic=\"{topic}\"}}"]);
        Assert.Equal(2, samples[$"nsqd_channel_depth{{channel=\"ch\",topic=\"{topic}\"}}"]);
        Assert.Equal(1, samples[$"nsqd_channel_clients{{channel=\"ch\",topic=\"{topic}\"}}"]);
        Assert.True(samples["nsqd_clients"] >= 1);
    }

    [GeneratedRegex("""^(?<series>[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) (?<value>[-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( -?[0-9]+)?$""")]
    private static partial Regex SampleLine();
}
