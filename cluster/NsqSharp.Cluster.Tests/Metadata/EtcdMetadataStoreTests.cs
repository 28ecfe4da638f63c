using System.Net.Http.Json;
using System.Text;
using NsqSharp.Cluster.Metadata;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Cluster.Tests.Metadata;

/// <summary>The store interface against a real etcd process (each test its own).</summary>
public sealed class EtcdMetadataStoreTests
{
    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    [EtcdFact(Timeout = 60_000)]
    public async Task PutGetAndPrefixReadsCarryRevisions()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var r1 = await store.PutAsync("/c/nodes/a", Utf8("A"));
        var r2 = await store.PutAsync("/c/nodes/b", Utf8("B"));
        await store.PutAsync("/c/nodesX", Utf8("not under the prefix"));
        Assert.True(r2 > r1);

        var one = await store.GetAsync("/c/nodes/a");
        Assert.Equal("A", one.Single!.ValueText);
        Assert.Equal(r1, one.Single.ModRevision);
        Assert.Equal(r1, one.Single.CreateRevision);
        Assert.Equal(1, one.Single.Version);
        Assert.Null((await store.GetAsync("/c/nodes/zz")).Single);

        var all = await store.GetPrefixAsync("/c/nodes/");
        Assert.Equal(["/c/nodes/a", "/c/nodes/b"], all.Values.Select(v => v.Key));
        Assert.True(all.Revision >= r2);

        await store.DeleteAsync("/c/nodes/", prefix: true);
        Assert.Empty((await store.GetPrefixAsync("/c/nodes/")).Values);
        Assert.Equal("not under the prefix", (await store.GetAsync("/c/nodesX")).Single!.ValueText);
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task CompareAndSwapAppliesOnlyAtTheExpectedRevision()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var create = await store.TransactAsync(new Transaction().If(Condition.Absent("/k")).Then(Operation.Put("/k", "v1")));
        Assert.True(create.Succeeded);
        var again = await store.TransactAsync(new Transaction().If(Condition.Absent("/k")).Then(Operation.Put("/k", "other")).Else(Operation.Get("/k")));
        Assert.False(again.Succeeded);
        Assert.Equal("v1", again.Reads.Single()!.ValueText);

        var current = (await store.GetAsync("/k")).Single!;
        var stale = await store.TransactAsync(new Transaction().If(Condition.ModRevisionIs("/k", current.ModRevision - 1)).Then(Operation.Put("/k", "stale")));
        Assert.False(stale.Succeeded);
        var fresh = await store.TransactAsync(new Transaction().If(Condition.ModRevisionIs("/k", current.ModRevision)).Then(Operation.Put("/k", "v2")));
        Assert.True(fresh.Succeeded);
        Assert.Equal("v2", (await store.GetAsync("/k")).Single!.ValueText);
        Assert.True((await store.TransactAsync(new Transaction().If(Condition.ValueIs("/k", "v2")).Then(Operation.Delete("/k")))).Succeeded);
        Assert.Null((await store.GetAsync("/k")).Single);
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task ConcurrentCompareAndSwapIncrementsLoseNoUpdate()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        await store.PutAsync("/counter", Utf8("0"));
        const int writers = 4, each = 25;
        var conflicts = 0;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < each; i++)
            {
                while (true)
                {
                    var seen = (await store.GetAsync("/counter")).Single!;
                    var next = (int.Parse(seen.ValueText) + 1).ToString();
                    if ((await store.TransactAsync(new Transaction().If(Condition.ModRevisionIs("/counter", seen.ModRevision)).Then(Operation.Put("/counter", next)))).Succeeded)
                    {
                        break;
                    }

                    Interlocked.Increment(ref conflicts);
                }
            }
        })));
        Assert.Equal((writers * each).ToString(), (await store.GetAsync("/counter")).Single!.ValueText);
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task LeasedKeysVanishWhenTheLeaseIsRevoked()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        await using var lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(5));
        await store.PutAsync("/c/nodes/n1", Utf8("alive"), lease.Id);
        Assert.Equal(lease.Id, (await store.GetAsync("/c/nodes/n1")).Single!.LeaseId);
        await lease.RevokeAsync();
        Assert.Null((await store.GetAsync("/c/nodes/n1")).Single);
        Assert.False(lease.Lost.IsCancellationRequested);
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task KeptAliveLeaseOutlivesItsTtl_AndIsLostWhenEtcdStopsAnswering()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl, requestTimeout: TimeSpan.FromSeconds(1));
        await using var lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(2));
        await store.PutAsync("/held", Utf8("x"), lease.Id);

        // Three TTLs with keep-alives: still there.
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.NotNull((await store.GetAsync("/held")).Single);
        Assert.False(lease.Lost.IsCancellationRequested);

        etcd.Pause();
        var lost = new TaskCompletionSource();
        using var registration = lease.Lost.Register(() => lost.TrySetResult());
        await lost.Task.WaitAsync(TimeSpan.FromSeconds(30));
        etcd.Resume();
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task WatchSeesEveryChangeOnceInOrder_AcrossAnEtcdRestart()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var start = (await store.GetPrefixAsync("/w/")).Revision;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(50));
        var seen = new List<WatchEvent>();
        var sawAll = new TaskCompletionSource();
        var watching = Task.Run(async () =>
        {
            await foreach (var batch in store.WatchPrefixAsync("/w/", start, cts.Token))
            {
                lock (seen)
                {
                    seen.AddRange(batch.Events);
                    if (seen.Count >= 41)
                    {
                        sawAll.TrySetResult();
                    }
                }
            }
        });

        for (int i = 0; i < 20; i++)
        {
            await store.PutAsync($"/w/{i:D2}", Utf8("v" + i));
        }

        await store.PutAsync("/other", Utf8("not watched"));
        etcd.Kill9();
        await etcd.RestartAsync();
        for (int i = 20; i < 40; i++)
        {
            await RetryWhileUnavailable(() => store.PutAsync($"/w/{i:D2}", Utf8("v" + i)));
        }

        await store.DeleteAsync("/w/00");
        await sawAll.Task.WaitAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);

        Assert.Equal(41, seen.Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"/w/{i:D2}").Append("/w/00"), seen.Select(e => e.Key));
        Assert.Equal(WatchEventKind.Delete, seen[^1].Kind);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Revision < p.Second.Revision));
    }

    [EtcdFact(Timeout = 60_000)]
    public async Task WatchFromCompactedHistoryThrowsCompacted()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var store = new EtcdMetadataStore(etcd.ClientUrl);
        var first = await store.PutAsync("/h/a", Utf8("1"));
        var last = await store.PutAsync("/h/a", Utf8("2"));
        using (var http = new HttpClient())
        {
            // etcd 3.4's v3 JSON gateway: compact history up to the last revision.
            using var response = await http.PostAsJsonAsync($"{etcd.ClientUrl}/v3/kv/compaction", new { revision = last.ToString(), physical = true });
            response.EnsureSuccessStatusCode();
        }

        var error = await Assert.ThrowsAsync<WatchCompactedException>(async () =>
        {
            await foreach (var _ in store.WatchPrefixAsync("/h/", first - 1))
            {
            }
        });
        Assert.Equal(last, error.CompactRevision);
    }

    [Fact(Timeout = 60_000)]
    public async Task AnEtcdThatIsDownGivesUnavailableWithinTheTimeout()
    {
        var port = FreePort.Next();
        await using var store = new EtcdMetadataStore($"http://127.0.0.1:{port}", requestTimeout: TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() => store.GetAsync("/x"));
        await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() => store.GrantLeaseAsync(TimeSpan.FromSeconds(2)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:2379")]
    [InlineData("tcp://127.0.0.1:2379")]
    [InlineData("http://127.0.0.1")]
    [InlineData("http://127.0.0.1:2379/path")]
    [InlineData("http://:2379")]
    public void BadEndpointsAreRefused(string endpoints)
    {
        Assert.Throws<FormatException>(() => EtcdMetadataStore.ParseEndpoints(endpoints));
    }

    [Fact]
    public void EndpointListsParse()
    {
        var parsed = EtcdMetadataStore.ParseEndpoints("http://127.0.0.1:2379, http://127.0.0.1:22379");
        Assert.Equal([2379, 22379], parsed.Select(u => u.Port));
    }

    private static async Task RetryWhileUnavailable(Func<Task> action)
    {
        for (int i = 0; ; i++)
        {
            try
            {
                await action();
                return;
            }
            catch (MetadataStoreUnavailableException) when (i < 50)
            {
                await Task.Delay(100);
            }
        }
    }
}
