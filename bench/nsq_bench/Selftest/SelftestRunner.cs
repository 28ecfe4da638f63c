using System.Text.Json;
using NsqSharp.Bench.Cli;
using NsqSharp.Bench.Modes;
using NsqSharp.Bench.Report;

namespace NsqSharp.Bench.Selftest;

/// <summary>`selftest`: writer, then reader, against an in-process <see cref="NullBroker"/>.</summary>
internal static class SelftestRunner
{
    public static async Task<int> RunAsync(SelftestOptions o)
    {
        using var broker = new NullBroker(o.Size);
        var writer = await ThroughputRunner.RunAsync(ThroughputPlan.From("writer", Fill(new WriterOptions { Topics = 1 }))).ConfigureAwait(false);
        var reader = await ThroughputRunner.RunAsync(ThroughputPlan.From("reader", Fill(new ReaderOptions { Topics = 1, Channels = 1, IdleStop = "0" }))).ConfigureAwait(false);
        foreach (var r in new[] { writer, reader })
        {
            foreach (var line in RunOutputs.HumanLines(r))
            {
                Console.WriteLine(line);
            }
        }

        var ceiling = Math.Min(writer.MsgsPerSec, reader.MsgsPerSec);
        var error = writer.Error ?? reader.Error;
        using (var stream = new MemoryStream())
        {
            using (var json = new Utf8JsonWriter(stream))
            {
                json.WriteStartObject();
                json.WriteString("mode", "selftest");
                json.WriteNumber("msgs_per_sec", Math.Round(ceiling, 1));
                json.WriteNumber("mib_per_sec", Math.Round(ceiling * o.Size / 1048576.0, 3));
                json.WriteNumber("writer_msgs_per_sec", Math.Round(writer.MsgsPerSec, 1));
                json.WriteNumber("reader_msgs_per_sec", Math.Round(reader.MsgsPerSec, 1));
                json.WriteNumber("writer_tool_cpu_avg_pct", Math.Round(writer.ToolCpuAvgPercent, 1));
                json.WriteNumber("reader_tool_cpu_avg_pct", Math.Round(reader.ToolCpuAvgPercent, 1));
                json.WriteNumber("size", o.Size);
                json.WriteNumber("batch_size", o.BatchSize);
                json.WriteNumber("connections", writer.Writers);
                if (error is not null)
                {
                    json.WriteString("error", error);
                }

                json.WriteEndObject();
            }

            Console.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
        }

        return error is null ? 0 : 1;

        T Fill<T>(T options)
            where T : ThroughputOptions
        {
            options.NsqdTcpAddress = broker.Address;
            options.Size = o.Size;
            options.BatchSize = o.BatchSize;
            options.Pipeline = 1;
            options.Rdy = 2500;
            options.RunFor = o.RunFor;
            options.Concurrency = o.Concurrency;
            options.Progress = o.Progress;
            options.BrokerPid = -1;
            options.Label = "selftest " + (options is WriterOptions ? "writer" : "reader");
            return options;
        }
    }
}
