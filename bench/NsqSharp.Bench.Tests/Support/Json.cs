using System.Text.Json;
using Xunit;

namespace NsqSharp.Bench.Tests.Support;

/// <summary>Field checks on a summary line, with the whole run in every failure message.</summary>
internal static class Json
{
    public static double Number(BenchRun run, JsonElement json, string name)
    {
        Assert.True(json.TryGetProperty(name, out var value), $"missing \"{name}\"\n{run.Describe()}");
        Assert.True(value.ValueKind == JsonValueKind.Number, $"\"{name}\" is {value.ValueKind}, not a number\n{run.Describe()}");
        var number = value.GetDouble();
        Assert.True(double.IsFinite(number), $"\"{name}\" = {number}\n{run.Describe()}");
        return number;
    }

    public static long Integer(BenchRun run, JsonElement json, string name)
    {
        var number = Number(run, json, name);
        Assert.True(number == Math.Floor(number), $"\"{name}\" = {number} is not an integer\n{run.Describe()}");
        return (long)number;
    }

    public static string String(BenchRun run, JsonElement json, string name)
    {
        Assert.True(json.TryGetProperty(name, out var value), $"missing \"{name}\"\n{run.Describe()}");
        Assert.True(value.ValueKind == JsonValueKind.String, $"\"{name}\" is {value.ValueKind}, not a string\n{run.Describe()}");
        return value.GetString()!;
    }

    public static void NoError(BenchRun run)
    {
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}\n{run.Describe()}");
        Assert.False(run.Json.TryGetProperty("error", out _), $"run reported an error\n{run.Describe()}");
    }

    /// <summary>The contract of every throughput and latency line: rate, MiB/s consistent with size, counts, shape.</summary>
    public static void CommonFields(BenchRun run, string mode, int size)
    {
        var json = run.Json;
        Assert.Equal(mode, String(run, json, "mode"));
        var rate = Number(run, json, "msgs_per_sec");
        var mib = Number(run, json, "mib_per_sec");
        Assert.True(Math.Abs(mib - (rate * size / 1048576.0)) <= 0.001 + (rate * size / 1048576.0 * 1e-6),
            $"mib_per_sec {mib} does not match msgs_per_sec {rate} x {size} B\n{run.Describe()}");
        Assert.Equal(size, Integer(run, json, "size"));
        foreach (var name in new[] { "pub_msgs_per_sec", "sub_msgs_per_sec", "duration_s", "tool_cpu_avg_pct", "other_cpu_avg_pct" })
        {
            Assert.True(Number(run, json, name) >= 0, $"{name} < 0\n{run.Describe()}");
        }

        foreach (var name in new[] { "published", "consumed", "batch_size", "writers", "readers", "topics", "channels" })
        {
            Assert.True(Integer(run, json, name) >= 0, $"{name} < 0\n{run.Describe()}");
        }

        Assert.True(DateTimeOffset.TryParse(String(run, json, "started_at"), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var started), $"started_at\n{run.Describe()}");
        Assert.InRange(started, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddMinutes(1));
        _ = String(run, json, "target");
    }

    /// <summary>p50 &lt;= p90 &lt;= p99 &lt;= p99.9 &lt;= max, all positive, for one prefix ("", "e2e_", "ack_").</summary>
    public static double[] OrderedPercentiles(BenchRun run, string prefix)
    {
        var json = run.Json;
        var names = new[] { "p50_us", "p90_us", "p99_us", "p999_us", "max_us" };
        var values = names.Select(n => Number(run, json, prefix + n)).ToArray();
        Assert.True(values[0] > 0, $"{prefix}p50_us = {values[0]}\n{run.Describe()}");
        for (var i = 1; i < values.Length; i++)
        {
            Assert.True(values[i - 1] <= values[i], $"{prefix}{names[i - 1]} {values[i - 1]} > {prefix}{names[i]} {values[i]}\n{run.Describe()}");
        }

        return values;
    }
}
