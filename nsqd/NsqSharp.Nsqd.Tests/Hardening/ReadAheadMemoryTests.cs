using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Hardening;

/// <summary>
/// A channel's read-ahead is bounded in bytes (--max-channel-read-ahead-bytes), not only in messages: with
/// large messages and a consumer that takes nothing, memory must stay near the bound, whatever the backlog.
/// (Before: 4,096 read-ahead entries each pinning its whole read buffer; 1.25 GB of 1 MB messages became
/// 6.2 GB of RSS.)
/// </summary>
public sealed class ReadAheadMemoryTests
{
    private const int MessageBytes = 1_000_000;
    private const int Messages = 300;

    [Fact(Timeout = 180_000)]
    public async Task StuckConsumerWithLargeMessagesKeepsMemoryBounded()
    {
        await using var nsqd = await NsqdInstance.StartAsync(["--max-channel-read-ahead-bytes=8388608", "--max-msg-size=1048576"]);
        var pid = nsqd.Process.Process.Pid;
        var topic = Names.Unique("bigmsg");

        // The stuck consumer: subscribed, ready for one message, never finishes it.
        await using var stuck = await nsqd.SubscribeAsync(topic, "ch");
        await stuck.SendAsync("RDY 1");
        var rssBefore = ProcessResources.RssBytes(pid);

        var body = new byte[MessageBytes];
        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            for (var i = 0; i < Messages; i++)
            {
                BitConverter.TryWriteBytes(body, i);
                await pub.SendAsync("PUB " + topic, body);
                await pub.ExpectResponseAsync("OK");
            }
        }

        var held = await stuck.ExpectMessageAsync();
        await nsqd.WaitForChannelAsync(topic, "ch", "depth", Messages - 1);
        var growth = ProcessResources.RssBytes(pid) - rssBefore;

        // 300 MB were published; the bound is 8 MiB of read-ahead plus write-path buffers (pooled) and the GC's slack.
        Assert.True(growth < 160L << 20, $"RSS grew by {growth >> 20} MiB while {Messages} x 1 MB messages waited for a stuck consumer");

        // Unstuck, the consumer gets every message, in order.
        await stuck.SendAsync("FIN " + held.Id);
        await stuck.SendAsync("RDY 10");
        var next = 1;
        while (next < Messages)
        {
            var m = await stuck.ExpectMessageAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(MessageBytes, m.Body.Length);
            Assert.Equal(next, BitConverter.ToInt32(m.Body, 0));
            next++;
            await stuck.SendAsync("FIN " + m.Id);
        }
    }
}
