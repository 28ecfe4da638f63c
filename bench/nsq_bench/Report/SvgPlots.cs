namespace NsqSharp.Bench.Report;

/// <summary>The plots of one run: throughput over time, broker CPU/RSS over time, latency percentile curves.</summary>
internal static class SvgPlots
{
    public static IReadOnlyList<string> Write(BenchResult r, string prefix)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(prefix));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        var written = new List<string>();
        var name = r.Label.Length > 0 ? r.Label : r.Mode;

        var throughput = new SvgLineChart($"{name}: throughput ({r.Target})", "seconds", "messages / second") { XFromZero = true };
        for (var i = 0; i < r.SeriesNames.Count; i++)
        {
            var index = i;
            throughput.Add(r.SeriesNames[i], r.Samples.Select(s => (s.ElapsedSeconds, s.Rates[index])).ToList());
        }

        written.Add(Save(prefix + "-throughput.svg", throughput.Render()));

        if (r.Samples.Any(s => s.BrokerCpuPercent is not null))
        {
            var broker = new SvgLineChart($"{name}: broker pid {r.Broker?.Pid} CPU and RSS", "seconds", "CPU % of one core  /  RSS MiB") { XFromZero = true }
                .Add("broker CPU %", r.Samples.Where(s => s.BrokerCpuPercent is not null).Select(s => (s.ElapsedSeconds, s.BrokerCpuPercent!.Value)).ToList())
                .Add("broker RSS MiB", r.Samples.Where(s => s.BrokerRssMib is not null).Select(s => (s.ElapsedSeconds, s.BrokerRssMib!.Value)).ToList())
                .Add("nsq_bench CPU %", r.Samples.Where(s => s.ToolCpuPercent is not null).Select(s => (s.ElapsedSeconds, s.ToolCpuPercent!.Value)).ToList());
            written.Add(Save(prefix + "-broker.svg", broker.Render()));
        }

        if (r.EndToEnd is not null || r.Ack is not null)
        {
            static double Nines(double percentile) => -Math.Log10(1 - Math.Min(percentile, 99.9999) / 100);
            var latency = new SvgLineChart($"{name}: latency by percentile at {r.TargetRate:N0} msg/s", "percentile", "microseconds")
            {
                XTicks = [(0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%"), (5, "99.999%")],
            };
            foreach (var (label, summary) in new[] { ("end-to-end (publish -> handler)", r.EndToEnd), ("ack (publish -> OK)", r.Ack) })
            {
                if (summary is { Count: > 0 })
                {
                    latency.Add(label, summary.Distribution.Select(p => (Nines(p.Percentile), p.ValueUs)).ToList());
                }
            }

            written.Add(Save(prefix + "-latency.svg", latency.Render()));
        }

        return written;
    }

    private static string Save(string path, string content)
    {
        File.WriteAllText(path, content);
        return path;
    }
}
