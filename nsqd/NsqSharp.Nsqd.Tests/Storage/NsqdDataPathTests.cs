using NsqSharp.Nsqd.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Storage;

/// <summary>The real nsqd: file descriptors stay bounded with thousands of topics, and one process owns a data path.</summary>
[Collection(FileDescriptorCollection.Name)]
public sealed class NsqdDataPathTests
{
    [Fact]
    public async Task ThousandsOfTopics_KeepTheFdCountBounded()
    {
        const int topics = 2000;
        const int budget = 64;
        await using var nsqd = await NsqdInstance.StartAsync([$"--max-open-segments={budget}"]);
        int pid = nsqd.Process.Process.Pid;
        int baseline = ProcessResources.OpenFileDescriptors(pid);

        var prefix = Support.Names.Unique("fd");
        await Parallel.ForAsync(0, topics, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            string topic = $"{prefix}_{i}";
            var created = await nsqd.PostAsync($"/topic/create?topic={topic}");
            Assert.Equal(200, created.Status);
            await nsqd.PublishAsync(topic, "m" + i);
        });

        int fds = ProcessResources.OpenFileDescriptors(pid);
        // Before: a lock and a segment handle per topic (4,000+). Now: the idle runtime's own plus at most the budget.
        Assert.True(fds < baseline + budget + 40, $"nsqd holds {fds} fds with {topics} topics (baseline {baseline}, budget {budget})");
        Assert.True(fds < 300, $"nsqd holds {fds} fds with {topics} topics");
    }

    [Fact]
    public async Task SecondNsqdOnTheSameDataPath_FailsWithOneFatalLine()
    {
        await using var first = await NsqdInstance.StartAsync([]);
        await first.PublishAsync("kept#ephemeral", "x");
        Assert.Equal(200, (await first.PostAsync("/topic/create?topic=kept")).Status);
        string ephemeral = Path.Combine(first.DataPath, "ephemeral");
        string metadata = Path.Combine(first.DataPath, "nsqd.json");
        Assert.True(Directory.Exists(ephemeral));
        byte[] metadataBefore = File.ReadAllBytes(metadata);

        var second = await Assert.ThrowsAsync<ServerExitedException>(() => NsqdProcess.StartAsync([], dataPath: first.DataPath));
        Assert.Equal(1, second.ExitCode);
        var fatal = second.Output.Split('\n').Where(l => l.Contains("FATAL", StringComparison.Ordinal)).ToList();
        Assert.True(fatal.Count == 1, "want one FATAL line:\n" + second.Output);
        Assert.Contains("in use", fatal[0], StringComparison.Ordinal);
        Assert.Contains(first.DataPath, fatal[0], StringComparison.Ordinal);

        // The first nsqd is untouched: its metadata was not rewritten, its ephemeral topic not wiped, and it still serves.
        Assert.Equal(metadataBefore, File.ReadAllBytes(metadata));
        Assert.True(Directory.Exists(ephemeral));
        await first.PublishAsync("kept#ephemeral", "y");
        Assert.Equal(200, (await first.GetAsync("/ping")).Status);
    }
}
