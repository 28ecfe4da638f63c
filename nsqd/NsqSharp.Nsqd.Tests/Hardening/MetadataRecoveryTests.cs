using NsqSharp.Nsqd.Tests.Support;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Hardening;

/// <summary>
/// nsqd.json is written in the background, coalesced (creating 50,000 topics must not rewrite a growing file
/// 50,000 times). What a publish acknowledged must survive a kill -9 that comes before that write: topics are
/// found from their directories and channels from their cursor files.
/// </summary>
public sealed class MetadataRecoveryTests
{
    [Fact(Timeout = 120_000)]
    public async Task TopicsAndChannelsCreatedJustBeforeAKillAreRestored()
    {
        await using var nsqd = await NsqdInstance.StartAsync([]);
        var topics = Enumerable.Range(0, 40).Select(i => Names.Unique($"fresh{i}")).ToList();
        await using (var sub = await nsqd.SubscribeAsync(topics[0], "early"))
        {
            await Task.Delay(1500); // one checkpoint interval: the channel's cursor file exists
        }

        await using (var pub = await nsqd.ConnectIdentifiedAsync())
        {
            foreach (var topic in topics)
            {
                await pub.PublishAsync(topic, "kept");
                await pub.ExpectResponseAsync("OK");
            }
        }

        nsqd.Process.Kill9();
        await nsqd.Process.RestartAsync();

        foreach (var topic in topics.Skip(1))
        {
            var stats = await nsqd.TopicStatsAsync(topic);
            Assert.True(stats.HasValue, $"topic {topic} was not restored");
            Assert.Equal(1, stats.Value.GetProperty("depth").GetInt64());
        }

        await using var again = await nsqd.SubscribeAsync(topics[0], "early");
        await again.SendAsync("RDY 1");
        Assert.Equal("kept", (await again.ExpectMessageAsync()).BodyText);
    }
}
