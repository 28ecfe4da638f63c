namespace NsqSharp.Bench.Modes;

/// <summary>bench_writer's --deadline: connect first, then sleep until the agreed start time.</summary>
internal static class DeadlineWait
{
    public static async Task UntilAsync(DateTime? startAtUtc)
    {
        if (startAtUtc is not { } at)
        {
            return;
        }

        var wait = at - DateTime.UtcNow;
        if (wait > TimeSpan.Zero)
        {
            await Console.Error.WriteLineAsync($"sleeping until {at:yyyy-MM-dd HH:mm:ss} UTC ({wait.TotalSeconds:0.0}s)").ConfigureAwait(false);
            await Task.Delay(wait).ConfigureAwait(false);
        }
    }
}
