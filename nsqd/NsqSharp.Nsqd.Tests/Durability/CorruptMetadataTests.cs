using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Nsqd.Tests.Durability;

/// <summary>
/// A corrupt nsqd.json stops nsqd as upstream's logFatal does: one FATAL line naming the file and the
/// parse error, exit status 1, no stack trace, and the file left as it was for the operator to repair
/// (not replaced by an empty topic list on the way out).
/// </summary>
public sealed class CorruptMetadataTests
{
    [Fact(Timeout = 60_000)]
    public async Task CorruptMetadataIsOneFatalLineAndIsNotOverwritten()
    {
        using var nsqd = await NsqdProcess.StartAsync();
        using (var http = new HttpClient())
        {
            (await http.PostAsync($"{nsqd.HttpBase}/topic/create?topic=kept", null)).EnsureSuccessStatusCode();
        }

        Assert.True(nsqd.Process.Terminate(TimeSpan.FromSeconds(10)), "nsqd did not exit on SIGTERM");
        var path = Path.Combine(nsqd.DataPath, "nsqd.json");
        var corrupt = "{\"version\":\"1.3.0\",\"topics\":[{\"name\":\"kept\",\n"u8.ToArray();
        await File.WriteAllBytesAsync(path, corrupt);

        var exited = await Assert.ThrowsAsync<ServerExitedException>(nsqd.RestartAsync);
        Assert.Equal(1, exited.ExitCode);
        Assert.True(nsqd.Process.HasExited);
        Assert.Equal(1, nsqd.Process.ExitCode);

        var lines = nsqd.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var fatal = Assert.Single(lines, l => l.Contains("FATAL", StringComparison.Ordinal));
        Assert.Contains($"FATAL: failed to load metadata - failed to parse metadata in {path} - ", fatal, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal) || l.Contains("Unhandled exception", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("exited cleanly", StringComparison.Ordinal));
        Assert.Equal(corrupt, await File.ReadAllBytesAsync(path));
    }
}
