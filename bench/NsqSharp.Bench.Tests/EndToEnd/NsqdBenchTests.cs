using NsqSharp.Bench.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Bench.Tests.EndToEnd;

/// <summary>Our nsqd on free 127.0.0.1 ports with its own data directory, shared by the class and killed after it.</summary>
public sealed class NsqdFixture : IAsyncLifetime
{
    private NsqdProcess? _nsqd;

    public NsqdProcess Nsqd => _nsqd ?? throw new InvalidOperationException("nsqd not started");

    public string TcpAddress => $"127.0.0.1:{Nsqd.TcpPort}";

    public async Task InitializeAsync() => _nsqd = await NsqdProcess.StartAsync();

    public Task DisposeAsync()
    {
        _nsqd?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// The JSON contract against a real broker: writer, then reader draining exactly what writer published,
/// then an open-loop latency run, each a real nsq_bench process whose last stdout line is parsed.
/// </summary>
[Collection(ProcessCollection.Name)]
public class NsqdBenchTests(NsqdFixture fixture) : IClassFixture<NsqdFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task Reader_drains_exactly_what_writer_published()
    {
        var topic = "bench_wr_" + Guid.NewGuid().ToString("N")[..12];
        var writer = await BenchRun.RunAsync(RunTimeout, "writer", $"--nsqd-tcp-address={fixture.TcpAddress}", $"--topic={topic}",
            "--runfor=1s", "--size=200", "--batch-size=100", "--progress=off");
        Json.NoError(writer);
        Json.CommonFields(writer, "writer", 200);
        var w = writer.Json;
        var published = Json.Integer(writer, w, "published");
        var writeRate = Json.Number(writer, w, "msgs_per_sec");
        var writeSeconds = Json.Number(writer, w, "duration_s");
        Assert.True(published > 0 && writeRate > 0, writer.Describe());
        Assert.True(published % 100 == 0, $"published {published} is not whole MPUBs of 100\n{writer.Describe()}");
        Assert.InRange(writeSeconds, 0.95, 15);
        Assert.True(Math.Abs(writeRate - (published / writeSeconds)) <= writeRate * 0.01, $"rate {writeRate} != {published} / {writeSeconds}\n{writer.Describe()}");
        Assert.Equal(writeRate, Json.Number(writer, w, "pub_msgs_per_sec"));
        Assert.Equal(0, Json.Integer(writer, w, "consumed"));
        Assert.True(Json.Integer(writer, w, "writers") >= 1, writer.Describe());
        Assert.Equal(0, Json.Integer(writer, w, "readers"));
        Assert.Equal(100, Json.Integer(writer, w, "batch_size"));
        Assert.Equal(fixture.TcpAddress, Json.String(writer, w, "target"));
        AssertBrokerPid(writer);

        var reader = await BenchRun.RunAsync(RunTimeout, "reader", $"--nsqd-tcp-address={fixture.TcpAddress}", $"--topic={topic}",
            "--runfor=30s", "--idle-stop=500ms", "--size=200", "--progress=off");
        Json.NoError(reader);
        Json.CommonFields(reader, "reader", 200);
        var r = reader.Json;
        var consumed = Json.Integer(reader, r, "consumed");
        Assert.True(consumed == published, $"reader consumed {consumed}, writer published {published}\n{writer.Describe()}\n{reader.Describe()}");
        var readRate = Json.Number(reader, r, "msgs_per_sec");
        var readSeconds = Json.Number(reader, r, "duration_s");
        Assert.True(readRate > 0, reader.Describe());
        Assert.True(readSeconds > 0 && readSeconds < 30, $"idle stop did not end the run early: {readSeconds}s\n{reader.Describe()}");
        Assert.True(Math.Abs(readRate - (consumed / readSeconds)) <= readRate * 0.01, $"rate {readRate} != {consumed} / {readSeconds}\n{reader.Describe()}");
        Assert.Equal(0, Json.Integer(reader, r, "published"));
        Assert.Equal(0, Json.Integer(reader, r, "writers"));
        Assert.True(Json.Integer(reader, r, "readers") >= 1, reader.Describe());
        AssertBrokerPid(reader);
    }

    [Fact]
    public async Task Latency_at_500_per_second_sends_the_schedule_and_reports_ordered_percentiles()
    {
        const int rate = 500;
        var run = await BenchRun.RunAsync(RunTimeout, "latency", $"--nsqd-tcp-address={fixture.TcpAddress}", $"--rate={rate}",
            "--runfor=1s", "--warmup=250ms", "--drain-timeout=10s", "--progress=off");
        Json.NoError(run);
        Json.CommonFields(run, "latency", 200);
        var json = run.Json;

        // Open loop: exactly rate x runfor messages are due in the run, all acked and delivered,
        // and the percentiles cover the ones due after the warmup.
        Assert.Equal(rate, Json.Number(run, json, "target_rate"));
        Assert.Equal(rate, Json.Integer(run, json, "published"));
        Assert.Equal(rate, Json.Integer(run, json, "consumed"));
        Assert.Equal(0, Json.Integer(run, json, "unacked"));
        Assert.Equal(0, Json.Integer(run, json, "undelivered"));
        Assert.Equal(375, Json.Integer(run, json, "e2e_count"));
        Assert.Equal(375, Json.Integer(run, json, "ack_count"));
        Assert.Equal(rate, Json.Number(run, json, "msgs_per_sec"), 1);
        Assert.Equal(1, Json.Integer(run, json, "batch_size"));

        var headline = Json.OrderedPercentiles(run, "");
        var e2e = Json.OrderedPercentiles(run, "e2e_");
        Json.OrderedPercentiles(run, "ack_");
        Assert.Equal(e2e, headline); // the unprefixed figures are the end-to-end ones
        // Nothing can take longer than the whole run plus its drain.
        Assert.True(headline[4] < 11_000_000, $"max {headline[4]} us\n{run.Describe()}");
        Assert.True(Json.Number(run, json, "send_lag_p99_us") <= Json.Number(run, json, "send_lag_max_us"), run.Describe());
        AssertBrokerPid(run);
    }

    private void AssertBrokerPid(BenchRun run)
    {
        // The broker is found through /proc by its listening port.
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(fixture.Nsqd.Process.Pid, Json.Integer(run, run.Json, "broker_pid"));
        }
    }
}
