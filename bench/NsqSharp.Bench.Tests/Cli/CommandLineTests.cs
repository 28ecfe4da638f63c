using CommandLine;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Tests.Support;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Bench.Tests.Cli;

/// <summary>nsq_bench as a process without a broker: help, usage errors, selftest, a refused connection.</summary>
[Collection(ProcessCollection.Name)]
public class CommandLineTests
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(30);

    private static readonly string[] Verbs = ["writer", "reader", "pubsub", "fanout", "manytopics", "latency", "failover", "compare", "table", "selftest"];

    [Fact]
    public async Task Help_lists_every_verb_and_exits_0()
    {
        var run = await BenchRun.RunAsync(Quick, "--help");
        Assert.True(run.ExitCode == 0, run.Describe());
        foreach (var verb in Verbs)
        {
            Assert.True(run.Stdout.Contains("  " + verb + " ", StringComparison.Ordinal), $"verb {verb} missing from --help\n{run.Describe()}");
        }
    }

    [Theory]
    [InlineData("writer", "--nsqd-tcp-address", "--runfor", "--progress", "--batch-size")]
    [InlineData("reader", "--nsqd-tcp-address", "--runfor", "--idle-stop", "--topic")]
    [InlineData("latency", "--rate", "--warmup", "--drain-timeout", "--runfor")]
    [InlineData("selftest", "--runfor", "--size", "--batch-size", "--progress")]
    [InlineData("writer", "--lookupd-http-address", "--partitions", "--replicas", "--min-isr")]
    [InlineData("failover", "--lookupd-http-address", "--kills", "--restart-cmd", "--failover-timeout")]
    public async Task Verb_help_shows_its_flags_and_exits_0(string verb, string flag1, string flag2, string flag3, string flag4)
    {
        foreach (var args in new[] { new[] { verb, "--help" }, new[] { "help", verb } })
        {
            var run = await BenchRun.RunAsync(Quick, args);
            Assert.True(run.ExitCode == 0, run.Describe());
            foreach (var flag in new[] { flag1, flag2, flag3, flag4 })
            {
                Assert.True(run.Stdout.Contains(flag + " ", StringComparison.Ordinal), $"{flag} missing\n{run.Describe()}");
            }
        }
    }

    [Fact]
    public async Task Version_exits_0()
    {
        var run = await BenchRun.RunAsync(Quick, "--version");
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.StartsWith("nsq_bench ", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'bogus' is unknown", "writer", "--bogus=1")]
    [InlineData("'bogus' is unknown", "selftest", "--bogus")]
    [InlineData("'frobnicate' is not recognized", "frobnicate")]
    [InlineData("'size' is defined with a bad format", "writer", "--size=abc")]
    [InlineData("invalid duration \"banana\"", "writer", "--runfor=banana")]
    [InlineData("--rate must be > 0", "latency", "--rate=0")]
    [InlineData("--runfor must be longer than --warmup", "latency", "--runfor=1s")]
    [InlineData("--size must be >= 24", "latency", "--size=8", "--warmup=0")]
    [InlineData("invalid topic name", "writer", "--topic=no spaces")]
    [InlineData("--batch-size must be > 0", "reader", "--batch-size=0")]
    [InlineData("invalid --lookupd-http-address \"nohost\"", "writer", "--lookupd-http-address=nohost")]
    [InlineData("--partitions, --replicas and --min-isr must be >= 0", "latency", "--lookupd-http-address=127.0.0.1:4161", "--replicas=-1")]
    [InlineData("Required option 'lookupd-http-address' is missing", "failover")]
    [InlineData("--kills > 1 needs --restart-cmd", "failover", "--lookupd-http-address=127.0.0.1:4161", "--kills=2")]
    public async Task Usage_error_exits_non_zero_with_a_message_on_stderr(string message, params string[] args)
    {
        var run = await BenchRun.RunAsync(Quick, args);
        Assert.True(run.ExitCode != 0, $"expected a failure\n{run.Describe()}");
        Assert.True(run.Stderr.Contains(message, StringComparison.Ordinal), $"stderr lacks \"{message}\"\n{run.Describe()}");
        Assert.True(string.IsNullOrWhiteSpace(run.Stdout), $"a usage error must not print a result line\n{run.Describe()}");
    }

    [Fact]
    public async Task Selftest_prints_its_ceiling_as_json()
    {
        var run = await BenchRun.RunAsync(Quick, "selftest", "--runfor=300ms", "--size=100", "--batch-size=50", "--concurrency=1", "--progress=off");
        Json.NoError(run);
        var json = run.Json;
        Assert.Equal("selftest", Json.String(run, json, "mode"));
        var writer = Json.Number(run, json, "writer_msgs_per_sec");
        var reader = Json.Number(run, json, "reader_msgs_per_sec");
        var rate = Json.Number(run, json, "msgs_per_sec");
        Assert.True(writer > 0 && reader > 0, run.Describe());
        Assert.Equal(Math.Min(writer, reader), rate, 1);
        Assert.Equal(Math.Round(rate * 100 / 1048576.0, 3), Json.Number(run, json, "mib_per_sec"), 3);
        Assert.Equal(100, Json.Integer(run, json, "size"));
        Assert.Equal(50, Json.Integer(run, json, "batch_size"));
        Assert.Equal(1, Json.Integer(run, json, "connections"));
        Assert.True(Json.Number(run, json, "writer_tool_cpu_avg_pct") >= 0, run.Describe());
        // The human lines come first; the JSON is the last line.
        Assert.Contains(run.StdoutLines, l => l.StartsWith("[selftest writer] PUB ", StringComparison.Ordinal));
        Assert.Contains(run.StdoutLines, l => l.StartsWith("[selftest reader] SUB ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refused_connection_still_ends_with_a_json_line_carrying_the_error()
    {
        var port = FreePort.Next(); // nothing listens there
        foreach (var mode in new[] { "writer", "latency" })
        {
            string[] args = [mode, $"--nsqd-tcp-address=127.0.0.1:{port}", "--runfor=1s", "--progress=off", .. mode == "latency" ? ["--warmup=0"] : Array.Empty<string>()];
            var run = await BenchRun.RunAsync(Quick, args);
            Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}\n{run.Describe()}");
            var json = run.Json;
            Json.CommonFields(run, mode, 200);
            Assert.Contains("127.0.0.1:" + port, Json.String(run, json, "error"), StringComparison.Ordinal);
            Assert.Equal(0, Json.Number(run, json, "msgs_per_sec"));
            Assert.Equal("127.0.0.1:" + port, Json.String(run, json, "target"));
            Assert.Contains("nsq_bench " + mode + ": ", run.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Go_style_single_dash_flags_are_accepted_after_the_verb()
    {
        // bench_writer / bench_reader spell flags "-runfor 10s" and "-topic=x".
        Type[] verbs = [typeof(WriterOptions), typeof(ReaderOptions), typeof(LatencyOptions), typeof(SelftestOptions)];
        var args = ArgumentNormalizer.Normalize(
            ["reader", "-nsqd-tcp-address", "127.0.0.1:4999", "-runfor", "3s", "-topic=bench_x", "--idle-stop=250ms", "-size", "64"], verbs);
        using var parser = new Parser(s => s.HelpWriter = null);
        var parsed = parser.ParseArguments(args, verbs);
        var reader = Assert.IsType<ReaderOptions>(Assert.IsType<Parsed<object>>(parsed).Value);
        Assert.Equal("127.0.0.1:4999", reader.NsqdTcpAddress);
        Assert.Equal("3s", reader.RunFor);
        Assert.Equal("bench_x", reader.Topic);
        Assert.Equal("250ms", reader.IdleStop);
        Assert.Equal(64, reader.Size);
    }
}
