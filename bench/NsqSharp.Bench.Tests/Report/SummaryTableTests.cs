using System.Text.Json;
using NsqSharp.Bench.Report;
using Xunit;

namespace NsqSharp.Bench.Tests.Report;

/// <summary>The `table` verb's extra tables: latency percentiles per label, failover times, and the ratio of two labels' medians.</summary>
public class SummaryTableTests
{
    private static (string Name, List<JsonElement> Runs) Group(string name, params string[] lines) =>
        (name, lines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList());

    [Fact]
    public void Ratio_of_medians_and_per_round_ratios()
    {
        var groups = new[]
        {
            Group("single", "{\"msgs_per_sec\":100}", "{\"msgs_per_sec\":300}", "{\"msgs_per_sec\":200}"),
            Group("cluster", "{\"msgs_per_sec\":50}", "{\"msgs_per_sec\":60}", "{\"msgs_per_sec\":80}", "{\"msgs_per_sec\":1,\"error\":\"x\"}"),
        };

        var text = SummaryTable.RenderRatios(groups, "cluster vs single; nope vs single");

        Assert.Contains("cluster / single: 30.0% of the median msgs/s (60 / 200); per round: 50.0%, 20.0%, 40.0%\n", text, StringComparison.Ordinal);
        Assert.Contains("ratio \"nope vs single\": no such labels", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Failover_table_pools_every_kill_and_sums_errors()
    {
        var groups = new[]
        {
            Group("fo",
                "{\"mode\":\"failover\",\"msgs_per_sec\":900,\"failover_ms\":[3000,4000],\"lookupd_ms\":[2900,3900],\"recover_ms\":[2000],\"publish_errors\":{\"E_CLUSTER_UNAVAILABLE\":10}}",
                "{\"mode\":\"failover\",\"msgs_per_sec\":900,\"failover_ms\":[3500],\"lookupd_ms\":[3400],\"recover_ms\":[2200,2400],\"publish_errors\":{\"E_CLUSTER_UNAVAILABLE\":5,\"E_NOT_LEADER\":1}}"),
        };

        var row = SummaryTable.RenderFailover(groups).Split('\n')[2];

        Assert.Equal("| fo | 3 | 3,000 / 3,500 / 4,000 | 3,000, 4,000, 3,500 | 3,400 | 2,200 | E_CLUSTER_UNAVAILABLE 15, E_NOT_LEADER 1 |", row);
    }

    [Fact]
    public void Latency_table_gives_each_percentile_as_median_and_range()
    {
        var groups = new[]
        {
            Group("lat",
                "{\"msgs_per_sec\":1,\"ack_p50_us\":1000,\"ack_p90_us\":2000,\"ack_p99_us\":9000,\"ack_p999_us\":20000,\"ack_max_us\":30000,\"e2e_p50_us\":1100,\"e2e_p99_us\":9100,\"e2e_p999_us\":21000}",
                "{\"msgs_per_sec\":1,\"ack_p50_us\":3000,\"ack_p90_us\":4000,\"ack_p99_us\":11000,\"ack_p999_us\":40000,\"ack_max_us\":50000,\"e2e_p50_us\":3100,\"e2e_p99_us\":11100,\"e2e_p999_us\":41000}",
                "{\"msgs_per_sec\":1,\"ack_p50_us\":2000,\"ack_p90_us\":3000,\"ack_p99_us\":10000,\"ack_p999_us\":30000,\"ack_max_us\":40000,\"e2e_p50_us\":2100,\"e2e_p99_us\":10100,\"e2e_p999_us\":31000}"),
        };

        var row = SummaryTable.RenderLatency(groups).Split('\n')[2];

        Assert.StartsWith("| lat | 3 | 2,000 (1,000–3,000) | 3,000 (2,000–4,000) | 10,000 (9,000–11,000) | 30,000 (20,000–40,000) | 40,000 (30,000–50,000) |", row, StringComparison.Ordinal);
    }
}
