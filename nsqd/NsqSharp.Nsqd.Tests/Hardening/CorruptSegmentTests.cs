using System.Text.RegularExpressions;
using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Hardening;

/// <summary>
/// Damage in a segment file, through the real process: a flipped byte in one batch's body loses exactly that
/// batch (the reader resynchronises at the next valid batch) and is logged and counted on /metrics; a flipped
/// byte in a batch's base offset (outside the CRC) loses nothing. (Before: reading skipped to the next sparse
/// index entry, dropping every intact message up to it, and a bad base offset dropped a message silently.)
/// </summary>
public sealed class CorruptSegmentTests
{
    private const int Messages = 30;

    // Each PUB is one batch: 48-byte batch header + 24-byte record header + a 3-byte body ("m00".."m29").
    private const int BatchBytes = 48 + 24 + 3;

    [Fact(Timeout = 120_000)]
    public async Task AFlippedBodyByteLosesOnlyItsBatchAndIsCounted()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = await PublishAndStopAsync(nsqd);
        FlipByte(nsqd, topic, (15 * BatchBytes) + 48 + 24 + 1); // inside m15's body: its CRC no longer matches
        await nsqd.Process.RestartAsync();

        var bodies = await ConsumeAllAsync(nsqd, topic, Messages - 1);
        Assert.Equal(Enumerable.Range(0, Messages).Where(i => i != 15).Select(i => $"m{i:D2}"), bodies);
        var metrics = (await nsqd.GetAsync("/metrics")).Body;
        Assert.Equal(1, Counter(metrics, "nsqd_partition_corrupt_batches_total", topic));
        Assert.Equal(1, Counter(metrics, "nsqd_partition_corrupt_messages_total", topic));
        Assert.Contains("ERROR", nsqd.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task AFlippedBaseOffsetByteLosesNothing()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topic = await PublishAndStopAsync(nsqd);
        FlipByte(nsqd, topic, (20 * BatchBytes) + 2); // m20's base offset field, which the CRC does not cover
        await nsqd.Process.RestartAsync();

        var bodies = await ConsumeAllAsync(nsqd, topic, Messages);
        Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"m{i:D2}"), bodies);
        var metrics = (await nsqd.GetAsync("/metrics")).Body;
        Assert.Equal(0, Counter(metrics, "nsqd_partition_corrupt_messages_total", topic));
    }

    /// <summary>30 single-message batches in one segment, a channel that has read none of them, then a clean stop.</summary>
    private static async Task<string> PublishAndStopAsync(NsqdInstance nsqd)
    {
        var topic = Names.Unique("corrupt");
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/create?topic={topic}")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/channel/create?topic={topic}&channel=ch")).Status);
        Assert.Equal(200, (await nsqd.PostAsync($"/topic/pause?topic={topic}")).Status); // nothing read ahead before the damage
        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            for (var i = 0; i < Messages; i++)
            {
                await pub.PublishAsync(topic, $"m{i:D2}");
                await pub.ExpectResponseAsync("OK");
            }
        }

        Assert.Equal(200, (await nsqd.PostAsync($"/topic/unpause?topic={topic}")).Status);
        Assert.True(nsqd.Process.Process.Terminate(TimeSpan.FromSeconds(20)), "nsqd did not stop on SIGTERM");
        return topic;
    }

    private static void FlipByte(NsqdInstance nsqd, string topic, long position)
    {
        var segment = Path.Combine(nsqd.DataPath, "topics", topic, "0", "00000000000000000000.log");
        Assert.Equal(Messages * BatchBytes, new FileInfo(segment).Length);
        using var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite);
        file.Position = position;
        var b = file.ReadByte();
        file.Position = position;
        file.WriteByte((byte)(b ^ 0x5A));
    }

    private static async Task<List<string>> ConsumeAllAsync(NsqdInstance nsqd, string topic, int expected)
    {
        await using var sub = await nsqd.SubscribeAsync(topic, "ch");
        await sub.SendAsync("RDY 100");
        var bodies = new List<string>();
        for (var i = 0; i < expected; i++)
        {
            var m = await sub.ExpectMessageAsync();
            bodies.Add(m.BodyText);
            await sub.SendAsync("FIN " + m.Id);
        }

        await sub.ExpectNothingAsync(TimeSpan.FromMilliseconds(500));
        return bodies;
    }

    private static long Counter(string metrics, string name, string topic)
    {
        var match = Regex.Match(metrics, $"^{name}\\{{partition=\"0\",topic=\"{topic}\"\\}} (\\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }
}
