using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Protocol;

/// <summary>
/// An idle connection must not pin its read and write buffers: they are pooled and rented only while
/// bytes are waiting (upstream nsqd keeps about 17 KB per connection; ours used to keep ~160 KB).
/// </summary>
public sealed class IdleMemoryTests
{
    private const int Connections = 2000;
    private const string Topic = "idle_memory";

    [Fact(Timeout = 180_000)]
    public async Task IdleIdentifiedConnectionsCostLittleMemory()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var pid = nsqd.Process.Process.Pid;

        // warm up the code paths and create the topic before the baseline
        await using (var warm = await nsqd.ConnectIdentifiedAsync())
        {
            await warm.PublishAsync(Topic, "x");
            await warm.ExpectResponseAsync("OK");
        }

        var before = await SettledRssKbAsync(nsqd, pid);
        var open = new List<RawConnection>(Connections);
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                open.Add(await nsqd.ConnectIdentifiedAsync());
            }

            // a round trip on each, so every connection has read and written since connecting
            foreach (var conn in open)
            {
                await conn.PublishAsync(Topic, "x");
            }

            foreach (var conn in open)
            {
                await conn.ExpectResponseAsync("OK");
            }

            var after = await SettledRssKbAsync(nsqd, pid);
            var perConnectionKb = (after - before) / (double)Connections;
            Assert.True(perConnectionKb < 40,
                $"RSS grew {after - before} KB for {Connections} idle connections: {perConnectionKb:F1} KB each (before {before} KB, after {after} KB)");
        }
        finally
        {
            foreach (var conn in open)
            {
                await conn.DisposeAsync();
            }
        }
    }

    /// <summary>VmRSS after upstream's POST /debug/freememory (a full compacting GC) and a moment to settle.</summary>
    private static async Task<long> SettledRssKbAsync(NsqdInstance nsqd, int pid)
    {
        var reply = await nsqd.PostAsync("/debug/freememory");
        Assert.Equal(200, reply.Status);
        await Task.Delay(500);
        return ProcessResources.RssBytes(pid) / 1024;
    }
}
